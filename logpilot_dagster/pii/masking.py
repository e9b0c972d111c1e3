"""Personal data in log text: find e-mail addresses, IP addresses, card numbers and US SSNs, and mask them.

This runs on every log line, so the common case (no personal data) must be cheap. Each kind has a
necessary condition that C code checks fast: `@` for an e-mail, `::` or three colon-separated groups for
IPv6, and for IPv4, SSNs and card numbers a small regex with a literal first character (card numbers are
searched on the line's digit shape). Only a kind whose hint fired is scanned by its precise regex, from
where the hint says its first candidate can start. The checks a regex cannot express well run in Python,
on those rare candidates only: octets up to 255, the Luhn checksum and digit count of a card number,
`ipaddress` for IPv6.

Look-alikes are left alone on purpose: versions (`1.2.3.4.5`, `v2.0.1`), dates, times, durations, ports,
UUIDs, hex and numeric ids. A number glued to a letter or digit, or continued by `.digit` (a dotted
sequence), is not personal data. Card numbers must start with 2-6 (every major network: Mastercard 2/5,
Amex/Diners/JCB 3, Visa 4, Discover/UnionPay 6), so epoch timestamps in ms/us/ns (which start with 1)
are never masked even when their digits happen to pass Luhn.

`mask` guarantees that its output holds no personal data by `find_pii`'s definition (so masking is
idempotent and the storage audit, which scans with `find_pii`, agrees with the masker): in rare
contrived texts a match's neighbour hides a candidate that the replacement token uncovers, and `mask`
then masks again until nothing is found.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

KINDS = ("email", "ip", "cc", "ssn")
TOKENS: dict[str, str] = {
    "email": "<EMAIL_REDACTED>",
    "ip": "<IP_REDACTED>",
    "cc": "<CC_REDACTED>",
    "ssn": "<SSN_REDACTED>",
}


@dataclass(frozen=True)
class PiiMatch:
    """One piece of personal data: its kind and its span `text[start:end]`."""

    kind: str
    start: int
    end: int


# Every pattern starts with a character class, so `re` skips to plausible first characters in C; the
# left boundary is then a lookbehind over the consumed first character. A number must not be glued to a
# letter or digit, nor continue a dotted or dashed digit sequence (versions, dates, ids).
_NUM_LEFT = r"(?<![0-9A-Za-z][0-9])(?<![0-9][.-][0-9])"
_NUM_RIGHT = r"(?![0-9A-Za-z])(?![.-][0-9])"

# The local part is limited to 64 characters (RFC 5321), which bounds where a scan has to start. Both
# parts may hold non-ASCII letters (RFC 6531, IDN); `\w` is Unicode here, and `[^\W_]` a letter or digit.
_EMAIL = re.compile(
    r"[\w.%+-]{1,64}@"
    r"(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}"
    r"(?![^\W_])(?!-)"
)

_OCTETS = r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}"
# Octet values are checked in Python. Dashes are fine here: `10.0.0.1-10.0.0.9` is a range of two IPs.
_IPV4 = re.compile(r"[0-9](?<![0-9A-Za-z][0-9])(?<![0-9]\.[0-9])[0-9]{0,2}(?:\.[0-9]{1,3}){3}"
                   r"(?![0-9A-Za-z])(?!\.[0-9])")

_H = r"[0-9A-Fa-f]{1,4}"
_AFTER_DOUBLE_COLON = rf"(?:(?:{_H}:)*{_OCTETS}|{_H}(?::{_H})*)"
_IPV6 = re.compile(
    r"[0-9A-Fa-f:](?<![0-9A-Za-z_:.][0-9A-Fa-f:])"
    rf"(?:(?<=:):{_AFTER_DOUBLE_COLON}?"  # starts with '::'
    r"|(?<=[0-9A-Fa-f])[0-9A-Fa-f]{0,3}"  # starts with a group: 8 groups, 6 groups and IPv4, or '::'
    rf"(?:(?::{_H}){{7}}|(?::{_H}){{5}}:{_OCTETS}|(?::{_H})*::{_AFTER_DOUBLE_COLON}?))"
    r"(?![0-9A-Za-z_])(?![.:][0-9A-Za-z:])"
)

# Area 000, 666 and 9xx, group 00 and serial 0000 are never issued.
_SSN = re.compile(rf"[0-8]{_NUM_LEFT}[0-9]{{2}}(?<!000)(?<!666)-(?!00)[0-9]{{2}}-(?!0000)[0-9]{{4}}{_NUM_RIGHT}")

# Plain 13-19 digits, or the printed groupings with one separator (space or dash) used throughout:
# 4-4-4(-4)(-1..3) and 4-6-4/4-6-5 (Amex, Diners). Digit count and Luhn are checked in Python.
_CC = re.compile(
    rf"[2-6]{_NUM_LEFT}(?:[0-9]{{12,18}}"
    r"|[0-9]{3}([ -])(?:[0-9]{4}(?:\1[0-9]{4}){1,2}(?:\1[0-9]{1,3})?|[0-9]{6}\1[0-9]{4,5}))"
    rf"{_NUM_RIGHT}"
)

# Cheap necessary conditions, searched first; a literal first character lets `re` skip in a tight C loop.
# Each leftmost hint also bounds where that kind's first candidate can start (see `_candidates`).
_IPV4_HINT = re.compile(r"\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]")
_SSN_HINT = re.compile(r"-[0-9]{2}-[0-9]{4}")
_CC_HINT = re.compile(r"[0-9]{4}(?:[0-9]{9}|([ -])[0-9]{4}(?:[0-9]{2})?\1[0-9]{4})")
# Digit runs are everywhere in logs (timestamps, ids), so `_CC_HINT` would start at every digit. On an
# ASCII line it runs instead on the line's *shape* (digits -> "0", letters -> "a", space, dash and dot
# kept, the rest -> "x"): the literal prefix "0000" lets `re` try only where four digits stand in a row,
# and the left boundary already drops digit runs inside hex ids and dotted or dashed numbers.
_CC_SHAPE_HINT = re.compile(rb"0000(?<![0a]0000)(?<!0[.-]0000)(?:0{9}|([ -])0000(?:00)?\1(?:0000))")
_SHAPE = bytes(
    ord("0") if byte in b"0123456789" else ord("a") if chr(byte).isalpha() and byte < 128
    else byte if byte in b" -." else ord("x")
    for byte in range(256)
)
# Three colon-separated groups in a row: needed by the uncompressed forms (which have no `::`), rare in
# JSON logs and `key:value` lists that have many colons.
_IPV6_HINT = re.compile(r":[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:")

# When candidates of different kinds start at the same place, the first kind here wins.
_PRIORITY = {"email": 0, "ip": 1, "ssn": 2, "cc": 3}
_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        total += _LUHN_DOUBLED[value] if position & 1 else value
    return total % 10 == 0


def _is_card(candidate: str) -> bool:
    digits = candidate.replace(" ", "").replace("-", "")
    return 13 <= len(digits) <= 19 and _luhn_ok(digits)


def _is_ipv4(candidate: str) -> bool:
    return all(int(octet) <= 255 for octet in candidate.split("."))


def _is_ipv6(candidate: str) -> bool:
    # `a::b` or a bare `::` separator is a valid address but, without a digit, not personal data in a log.
    if not any(char.isdigit() for char in candidate):
        return False
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


def _candidates(text: str) -> list[PiiMatch]:
    """Validated matches of every kind, each kind in order; kinds may overlap one another."""
    found: list[PiiMatch] = []
    at = text.find("@")
    if at >= 0:
        found.extend(PiiMatch("email", m.start(), m.end()) for m in _EMAIL.finditer(text, max(0, at - 64)))
    if "::" in text or (text.count(":") >= 6 and _IPV6_HINT.search(text) is not None):
        found.extend(PiiMatch("ip", m.start(), m.end()) for m in _IPV6.finditer(text) if _is_ipv6(m.group()))
    hint = _IPV4_HINT.search(text)
    if hint is not None:  # the first octet ends at most 3 characters before the hint
        found.extend(PiiMatch("ip", m.start(), m.end())
                     for m in _IPV4.finditer(text, max(0, hint.start() - 3)) if _is_ipv4(m.group()))
    hint = _SSN_HINT.search(text)
    if hint is not None:
        found.extend(PiiMatch("ssn", m.start(), m.end()) for m in _SSN.finditer(text, max(0, hint.start() - 3)))
    if text.isascii():  # byte offsets in the shape are character offsets
        hint = _CC_SHAPE_HINT.search(text.encode("ascii").translate(_SHAPE))
    else:
        hint = _CC_HINT.search(text)
    if hint is not None:
        found.extend(PiiMatch("cc", m.start(), m.end())
                     for m in _CC.finditer(text, hint.start()) if _is_card(m.group()))
    return found


def _resolved(found: list[PiiMatch]) -> list[PiiMatch]:
    if len(found) < 2:
        return found
    found.sort(key=lambda item: (item.start, _PRIORITY[item.kind]))
    kept: list[PiiMatch] = []
    end = 0
    for item in found:
        if item.start >= end:
            kept.append(item)
            end = item.end
    return kept


def find_pii(text: str) -> list[PiiMatch]:
    """The personal data in `text`, in order and non-overlapping.

    Where candidates of different kinds overlap, the leftmost wins (then e-mail, IP, SSN, card).
    """
    return _resolved(_candidates(text))


def _replace(text: str, found: list[PiiMatch], counts: dict[str, int] | None) -> str:
    pieces: list[str] = []
    last = 0
    for item in found:
        pieces.append(text[last:item.start])
        pieces.append(TOKENS[item.kind])
        last = item.end
        if counts is not None:
            counts[item.kind] += 1
    pieces.append(text[last:])
    return "".join(pieces)


def mask_with_counts(text: str) -> tuple[str, dict[str, int]]:
    """`text` with personal data replaced by tokens, and how many of each kind (every kind is a key)."""
    counts = dict.fromkeys(KINDS, 0)
    found = find_pii(text)
    while found:
        text = _replace(text, found, counts)
        found = find_pii(text)
    return text, counts


def mask(text: str) -> str:
    """`text` with e-mails, IPs, card numbers and SSNs replaced by `<EMAIL_REDACTED>`-style tokens."""
    found = _candidates(text)
    if not found:  # the common case
        return text
    while found:
        text = _replace(text, _resolved(found), None)
        found = _candidates(text)
    return text


def contains_pii(text: str) -> bool:
    """Whether `text` holds any personal data."""
    return bool(_candidates(text))


def mask_stream(lines: Iterable[str]) -> Iterator[str]:
    """Mask lines one at a time (line endings are kept), for streams too long to hold in memory."""
    for line in lines:
        yield mask(line)
