"""Shapes: messages that differ only in their digits are masked alike, so the masks run once per shape.

Every mask in `masks` treats the ASCII digits alike (`\\d`, `[0-9a-fA-F]`, never one particular digit), and
so do the head cut and the tokeniser (`tokenize`). Two messages equal once each ASCII digit is read as `0`
therefore split into values at the same places, with values of the same lengths: that text, the *shape key*,
decides how a message is masked. When the wording between the values holds no digit it is the same text in
every message of the shape, so the shape also fixes the signature: a message of a known shape is masked
with one `bytes.translate` and a dictionary lookup instead of the masking regex.

A shape whose wording holds digits (`via interface eth0`), or whose message had control characters that
masking replaces, has no fixed signature (`Shape.signature is None`): its messages are masked one by one.
Messages longer than `MAX_SHAPE_CHARS` are not cached by shape (their keys would be as long as they are).

Random ids (hex hashes, UUIDs, tokens) mix letters and digits at random places, so their messages rarely
share a shape key. Matching therefore looks a shape up a second time under its *id key* (`id_key`), where
every *free id* reads as zeros: a token of ASCII letters, digits and `-` only, at least 5 long, holding two
digits or more, with a delimiter of the masks (or the text's edge) on both sides, not shaped like a date
(`0000-00-00`), and not after a digit and a comma. Such a token is one whole value for every mask, or lies
inside a larger value (a quoted value, a URL, a query string), whatever its letters and digits: no mask tells
letters from digits there except through alternatives it cannot take (it has no `.`, `:`, `/`, `+`, `@` nor
`_`; it is too long to be a day or a year of `ctime`; two digits rule out the "word with one trailing digit"
of `numeric`; a date followed by a time, and a clock's fraction after a comma, are excluded: the only
places where a mask runs across a delimiter into digits). So messages with equal id keys split at the same
places, with wording that differs only inside those values.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from itertools import accumulate
from operator import methodcaller

from logpilot_dagster.mining.constants import KeyedValue, keep_constants, keyed_values
from logpilot_dagster.mining.masks import VALUE_WORD_RE
from logpilot_dagster.mining.tokenize import TAIL, VALUE, mask_message

MAX_SHAPE_CHARS = 512

_ASCII_DIGIT = re.compile(r"[0-9]")
_MARKER = re.compile(f"[{VALUE}{TAIL}]")
# Both steps run in C: UTF-8 never puts an ASCII byte inside a multi-byte character, so equal keys mean
# equal messages up to their ASCII digits. `surrogatepass` keeps lone surrogates (undecodable input) encodable.
_encode = methodcaller("encode", "utf-8", "surrogatepass")
_zero_digits = methodcaller("translate", bytes.maketrans(b"0123456789", b"0000000000"))


def shape_keys(messages: list[str]) -> list[bytes]:
    """The shape key of each message."""
    return list(map(_zero_digits, map(_encode, messages)))


_KEY_DELIMS = rb" \t\n\r\f\v,;=()\[\]{}\"'|<>"  # the masks' delimiters (`masks._DELIMS`), ASCII only
# A token of 5 or more letters, digits (zeros in a shape key) and `-`, two of them digits, between delimiters,
# and not after a digit and a comma (where a clock's fraction may go on: `12:00:00,123456`).
_FREE_ID = re.compile(rb"(?<![^" + _KEY_DELIMS + rb"])(?<!0,)(?=[A-Za-z-]*0[A-Za-z-]*0)[0-9A-Za-z-]{5,}(?![^"
                      + _KEY_DELIMS + rb"])")
_ALNUM_TO_ZERO = bytes.maketrans(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", b"0" * 62)
_DATE_SHAPE = b"0000-00-00"


def _free_id(token: re.Match[bytes]) -> bytes:
    text = token.group()
    canonical = text.translate(_ALNUM_TO_ZERO)
    return text if canonical == _DATE_SHAPE else canonical


def id_key(key: bytes) -> bytes:
    """A shape key with its free ids read as zeros (see the module docstring); `key` itself without any."""
    return _FREE_ID.sub(_free_id, key)


@dataclass(frozen=True, slots=True)
class Shape:
    # The signature of every message of the shape, or None when it has to be computed per message.
    signature: str | None
    # The length of each masked value, in order, the tail (see `tokenize`) last.
    value_lengths: tuple[int, ...]
    # The values that are plain words (see `masks.VALUE_WORD_RE`): they hold no digit, so they are the
    # same in every message of the shape.
    words: tuple[str, ...]
    # Whether the shape may be remembered under its key (see `MAX_SHAPE_CHARS`).
    cacheable: bool
    # The masked values that follow a key (see `constants`), before any is kept as a constant: the
    # words among them hold no digit, so they too are the same in every message of the shape.
    keyed: tuple[KeyedValue, ...] = ()


def make_shape(message: str, max_head_chars: int,
               constant_keys: frozenset[str] = frozenset()) -> tuple[Shape, str, list[str]]:
    """The shape of `message` (and of every message with the same shape key), with the message's own
    signature and values (see `tokenize.mask_message`), the values of `constant_keys` kept as wording."""
    signature, values = mask_message(message, max_head_chars)
    keyed = keyed_values(signature, values)
    words = tuple(VALUE_WORD_RE.findall(VALUE.join(values))) if values else ()
    if keyed:
        signature, values = keep_constants(signature, values, constant_keys)
    sanitised = VALUE in message or TAIL in message
    fixed = not sanitised and _ASCII_DIGIT.search(signature) is None
    shape = Shape(signature if fixed else None, tuple(map(len, values)), words, len(message) <= MAX_SHAPE_CHARS,
                  keyed)
    return shape, signature, values


def message_slices(shape: Shape, signature: str, spans: tuple[tuple[int, int], ...]) -> tuple[slice, ...]:
    """Where the signature's `spans` are in any message of `shape` (whose signature is `signature`).

    A masked value is one marker character in the signature and `value_lengths[i]` characters in the
    message; everything else is the same text in both, so an offset moves by the extra length of the
    values before it.
    """
    markers = [marker.start() for marker in _MARKER.finditer(signature)]
    if len(markers) != len(shape.value_lengths):
        raise ValueError("the signature does not belong to this shape")
    # shifts[i]: how much longer the message is than the signature after the first i markers.
    shifts = [0, *accumulate(length - 1 for length in shape.value_lengths)]
    return tuple(slice(start + shifts[bisect_left(markers, start)], end + shifts[bisect_left(markers, end)])
                 for start, end in spans)
