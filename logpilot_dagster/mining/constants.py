"""Constant keys: `key=value` pairs whose value names a variant of the event rather than a parameter.

The masks treat the value of every `key=value` (and `key:value`) as a variable. Most are (ids, counts,
hosts), but a key whose values are always one of a few plain words, each seen many times (`tty=NODEVssh`,
`auth:SIMPLE`, `user=root`), is an enumeration like a status or a mode: its value says which variant of
the event a line is, and a wildcard there hides it. Per source, the miner counts each key's values (per
line, while learning). A key is *constant* while all its values are plain words (letters, `_`, `-`; no
digit, no literal such as `true` or `null`), there are at most `max_constant_values` of them, and the key
was seen at least `min_constant_count` times per value. Its values are then kept in the signature as
wording (`keep_constants`), and lines with different values of it are never one event (see `engine`).

A key that shows any other kind of value, or too many values, is a variable for good, so a key's status
changes at most twice (variable while it is rare, constant, variable again): a template id, once issued,
keeps its meaning either way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from logpilot_dagster.mining.tokenize import VALUE

# The key before a `=` or `:` (a token, as `tokenize` splits them), searched for backwards from it.
_KEY_RE = re.compile(r"[^\s\x00\x01,;:=()\[\]{}\"'|<>]+\Z")
_MAX_KEY_CHARS = 64
# A value that can be a constant: a plain word. Literals are values of a type, never constants.
_CONSTANT_WORD_RE = re.compile(r"[A-Za-z][A-Za-z_-]{0,31}")
_LITERALS = frozenset({"true", "false", "null", "none"})
# Keys remembered per source: field names are few; the bound only protects against generated keys.
MAX_TRACKED_KEYS = 10_000

# (value index, key, the value when it can be a constant else None) per keyed masked value.
KeyedValue = tuple[int, str, str | None]


def keyed_values(signature: str, values: list[str]) -> tuple[KeyedValue, ...]:
    """The masked values of `signature` that follow `key=` or `key:` (a `:` after a letter, as in `masks`),
    with their key."""
    found = []
    for separator in "=:":
        at = signature.find(separator + VALUE)
        while at != -1:
            key = _KEY_RE.search(signature, max(0, at - _MAX_KEY_CHARS), at)
            if key is not None and (separator == "=" or key.group()[-1].isascii() and key.group()[-1].isalpha()):
                index = signature.count(VALUE, 0, at + 1)
                value = values[index]
                word = value if _CONSTANT_WORD_RE.fullmatch(value) and value.lower() not in _LITERALS else None
                found.append((index, key.group(), word))
            at = signature.find(separator + VALUE, at + 2)
    return tuple(sorted(found))


def keep_constants(signature: str, values: list[str], constant_keys: frozenset[str]) -> tuple[str, list[str]]:
    """(signature, values) with the values of constant keys put back into the signature as wording."""
    if not constant_keys:
        return signature, values
    kept = {index for index, key, word in keyed_values(signature, values) if word is not None and key in constant_keys}
    if not kept:
        return signature, values
    parts = signature.split(VALUE)
    pieces = [parts[0]]
    remaining: list[str] = []
    for index, text in enumerate(parts[1:]):
        if index in kept:
            pieces.append(values[index])
        else:
            pieces.append(VALUE)
            remaining.append(values[index])
        pieces.append(text)
    remaining.extend(values[len(parts) - 1 :])  # the tail, if any
    return "".join(pieces), remaining


class KeyValueCounts:
    """Per key, how often each of its values was seen; None once the key is known to be a variable."""

    def __init__(self, max_values: int, min_count: int, saved: dict[str, dict[str, int] | None] | None = None):
        self._max_values = max_values
        self._min_count = min_count
        self._seen: dict[str, dict[str, int] | None] = {
            key: None if values is None else dict(values) for key, values in (saved or {}).items()}

    def observe(self, keyed: Iterable[KeyedValue], lines: int) -> None:
        """Count `lines` lines that hold the keyed values `keyed`."""
        seen = self._seen
        for _, key, word in keyed:
            values = seen.get(key, {})
            if values is None or (key not in seen and len(seen) >= MAX_TRACKED_KEYS):
                continue
            if word is None or (word not in values and len(values) >= self._max_values):
                seen[key] = None
                continue
            values[word] = values.get(word, 0) + lines
            seen[key] = values

    def constant_keys(self) -> frozenset[str]:
        return frozenset(key for key, values in self._seen.items()
                         if values and sum(values.values()) >= self._min_count * len(values))

    def state(self) -> dict[str, dict[str, int] | None]:
        return {key: None if values is None else dict(values) for key, values in self._seen.items()}
