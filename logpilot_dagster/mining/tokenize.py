"""From a message to its signature: values masked, the rest kept verbatim, tokens ready for Drain3.

A *signature* is the message's mined part with every value (see `masks`) replaced by `VALUE`, spacing
and punctuation untouched. Messages with equal signatures are the same event with different values, so
the miner caches by signature and only walks Drain3's tree for signatures it has not seen.

Long messages: only the first line, cut at `max_head_chars`, is mined. Whatever follows (a Java stack
trace joined with "\\n", a dumped payload) becomes one trailing value marked by `TAIL`; the template
keeps the line break, so `Failed\\n\\tat x.y(Z.java:1)` mines as `Failed\\n<*>`. A multi-line message
thus costs the same as its first line, and its template does not depend on the depth of the trace.
"""

from __future__ import annotations

import re

from logpilot_dagster.mining.masks import UNIT_RE, VARIABLE_RE

# Control characters that cannot occur in a real signature: one marks a masked value, one the tail.
VALUE = "\x00"
TAIL = "\x01"
_SANITISED = "\ufffd"

# Drain3 receives tokens joined by spaces; a masked value is this token (a plain word to Drain3, so
# messages that share masked positions count as similar there).
DRAIN_VALUE_TOKEN = "<V>"
# Drain3's spelling of a unit after a masked value (`<V> <ms`): the first character of `<V>` (no token of
# a message starts with it), so the engine and the merging treat both alike: a unit is part of its value.
VALUE_LIKE_MARK = "<"
# Drain3's spelling of a constant key's value kept in the signature (see `constants`): the word after this
# mark, which no other token starts with. Different constants never match (see `engine`, `postprocess`).
CONSTANT_MARK = "="
_KEY_SEPARATORS = "=:"
_VALUE_ENDS = frozenset(" \t\n\r\f\v,;()[]{}\"'|<>\x01")

# Tokens for Drain3: each masked value on its own, and words split at whitespace and at the delimiters
# of `key=value`, `key: value`, brackets, quotes and commas. The delimiters stay in the signature text
# (so templates keep the original spelling) but are not tokens.
TOKEN_RE = re.compile(r"\x00|[^\s\x00\x01,;:=()\[\]{}\"'|<>]+")


def mask_message(message: str, max_head_chars: int) -> tuple[str, list[str]]:
    """Return (signature, values): the values are the original substrings, in order, tail last."""
    if VALUE in message or TAIL in message:
        message = message.replace(VALUE, _SANITISED).replace(TAIL, _SANITISED)
    cut = message.find("\n", 0, max_head_chars + 1)
    if cut == -1:
        if len(message) <= max_head_chars:
            parts = VARIABLE_RE.split(message)
            return VALUE.join(parts[0::2]), parts[1::2]
        cut = _word_boundary_before(message, max_head_chars)
        head, separator, tail = message[:cut], "", message[cut:]
    else:
        head, separator, tail = message[:cut], "\n", message[cut + 1 :]
    parts = VARIABLE_RE.split(head)
    values = parts[1::2]
    values.append(tail)
    return VALUE.join(parts[0::2]) + separator + TAIL, values


def _word_boundary_before(message: str, limit: int) -> int:
    """Cut a single overlong line at its last whitespace before `limit`, so no token is split in two."""
    space = max(message.rfind(" ", 0, limit), message.rfind("\t", 0, limit))
    return space if space > 0 else limit


def signature_tokens(signature: str) -> list[tuple[int, int]]:
    """The (start, end) spans of the signature's tokens, in order."""
    return [match.span() for match in TOKEN_RE.finditer(signature)]


def drain_content(signature: str, spans: list[tuple[int, int]]) -> str:
    """The text handed to Drain3: the tokens joined by single spaces, masked values as `<V>`, units after
    them and kept constants marked."""
    return " ".join(
        DRAIN_VALUE_TOKEN if signature[start] == VALUE
        else VALUE_LIKE_MARK + signature[start:end] if _is_unit(signature, start, end)
        else CONSTANT_MARK + signature[start:end] if _is_kept_constant(signature, start, end)
        else signature[start:end]
        for start, end in spans
    )


def _is_unit(signature: str, start: int, end: int) -> bool:
    """Whether the token is a unit spaced from the masked value before it (`4 KB`, `2.5 seconds`)."""
    return start > 1 and signature[start - 1] == " " and signature[start - 2] == VALUE and (
        UNIT_RE.fullmatch(signature, start, end) is not None)


def _is_kept_constant(signature: str, start: int, end: int) -> bool:
    """Whether the token is the value of `key=value` / `key:value`: the `kv_value` mask masks every such
    value (see `masks`), so one left in a signature is a constant kept by `constants.keep_constants`."""
    if start == 0 or signature[start - 1] not in _KEY_SEPARATORS:
        return False
    if signature[start - 1] == ":" and not (start > 1 and signature[start - 2].isascii() and signature[start - 2].isalpha()):
        return False
    return end == len(signature) or signature[end] in _VALUE_ENDS
