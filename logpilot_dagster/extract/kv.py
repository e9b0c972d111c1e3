"""Generic key-value extraction: `key=value`, `key="quoted value"` and `key: value` anywhere in a line.

Fast enough to run on every line. `key: value` needs a lower-case identifier as key so that prose such as
`ERROR: Disk full` is not read as a pair.
"""

from __future__ import annotations

import re

_VALUE = r"""("[^"]*"|'[^']*'|\[[^\]]*\]|[^\s,;&=][^\s,;&]*)"""
# One scan for both spellings, left to right: at a position `key=value` is tried first, and a pair's text is
# never read again (`msg="a: b"` is one pair). Groups: (key, value) of `=`, then (key, value) of `: `.
_PAIR = re.compile(r"(?<![\w.\-])(?:([A-Za-z_][\w.\-]*)\s?=\s?" + _VALUE + r"|([a-z_][\w.\-]*):\s" + _VALUE + ")")
# Anything that still looks like a pair once the parsed spans are blanked out.
_PAIR_LIKE = re.compile(r"[\w.\-]+\s?=\s?\S|\b[a-z_][\w.\-]*:\s\S")


# Where a pair can be: a key ends just before one of these (or before one whitespace and a `=`).
_SEPARATOR = re.compile(r"=|:\s")
_KEY_CHARS = frozenset("_.-")


def extract_kv(message: str) -> dict[str, str]:
    r"""Pairs in order of appearance; a repeated key keeps its first value. Quotes are stripped.

    The pairs `_PAIR.findall` gives, found from the separators rather than by trying the pattern at every
    character: a key is the whole run of `[\w.-]` before its separator (the pattern may not start inside
    one), so each separator has one place where a pair can start, and the pattern is tried there only."""
    if "=" not in message and ": " not in message:
        return {}
    found: dict[str, str] = {}
    end = 0  # where the last pair ended: its text is never read again
    for separator in _SEPARATOR.finditer(message):
        start = separator.start()
        if start < end:
            continue
        if message[start] == "=" and start > 0 and message[start - 1].isspace():
            start -= 1  # `key =value`
        while start > end and (message[start - 1].isalnum() or message[start - 1] in _KEY_CHARS):
            start -= 1
        pair = _PAIR.match(message, start)
        if pair is None:
            continue
        end = pair.end()
        key, value, colon_key, colon_value = pair.groups()
        if key:
            found.setdefault(key, _unquote(value))
        else:
            found.setdefault(colon_key, _unquote(colon_value))
    return found


def unparsed_pairs(message: str) -> list[str]:
    """Fragments that look like key-value pairs but generic extraction did not take (e.g. `a = = b`)."""
    _, spans = _pairs(message)
    blanked = list(message)
    for start, end in spans:
        blanked[start:end] = " " * (end - start)
    return [m.group(0) for m in _PAIR_LIKE.finditer("".join(blanked))]


def _pairs(message: str) -> tuple[list[tuple[str, str]], list[tuple[int, int]]]:
    if "=" not in message and ": " not in message:
        return [], []
    found: dict[str, str] = {}
    spans: list[tuple[int, int]] = []
    for match in _PAIR.finditer(message):
        spans.append(match.span())
        key, value, colon_key, colon_value = match.groups()
        found.setdefault(key or colon_key, _unquote(value if key else colon_value))
    return list(found.items()), spans


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value
