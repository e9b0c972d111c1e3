"""Personal data and secrets in log text: find them and mask them.

Kinds: e-mail addresses, IP addresses (v4 and v6), card numbers, US SSNs, phone numbers (NANP and
`+`-prefixed international), tokens (JWTs, `Authorization`/`Bearer` credentials, values of `token=`,
`secret=`, `api_key=`-style keys), cloud access keys (AWS key ids and the provider-prefixed keys of
Google, GitHub, GitLab, Slack and Stripe), and passwords (in `scheme://user:password@host` URLs and in
`password=`/`passwd:`/`pwd=`-style key-values). For a secret only the value is masked: the key, the
URL's scheme, user and host stay, so a line keeps its meaning.

This runs on every log line, so the common case (no personal data) must be cheap. Each kind has a
necessary condition that C code checks fast: `@` for an e-mail, `::` or three colon-separated groups for
IPv6, `+` for an international phone number, `eyJ` for a JWT, `://` for a URL password, a keyword in the
lowercased line for key-values, and for IPv4, SSNs, card numbers and NANP phone numbers a small regex
with a literal first character (on an ASCII line run on its digit shape, see `_SHAPE`). Only a kind whose
hint fired is scanned by its precise regex, from where the hint says its first candidate can start. The
checks a regex cannot express well run in Python, on those rare candidates only: octets up to 255, the
Luhn checksum and digit count of a card number, `ipaddress` for IPv6, NANP area and exchange codes, the
words before an IPv4 address, placeholders in place of a secret.

Look-alikes are left alone on purpose: versions (`1.2.3.4.5`, `v2.0.1`, `version 10.2.3.4`,
`Chrome/120.0.0.0`), dates, times, durations, ports, pids, UUIDs, hex hashes and container ids, numeric
ids, HDFS block ids (`blk_-6952295868487656571`), timezone offsets (`+0000`). A number glued to a
letter, digit or `_` (an identifier such as `blk_123`), joined to a word by a dash (`ORD-4111...`), or
continued by `.digit` (a dotted sequence), is not personal data. Card numbers must start with 2-6 (every
major network: Mastercard 2/5, Amex/Diners/JCB 3, Visa 4, Discover/UnionPay 6), so epoch timestamps in
ms/us/ns (which start with 1) are never masked even when their digits happen to pass Luhn. MAC addresses
(six two-digit groups) and EUI-64/WWN ids (eight two-digit groups, valid IPv6 syntax) are device ids,
not IP addresses, and stay. A bare 10-digit number or `415 555 0199` with spaces is not taken for a
phone number (counters and ids look the same); a card or SSN grouped by spaces (`4111 1111 1111 1111`,
`123 45 6789`) is, unless it stands in a row of numbers.

Words about secrets are not secrets: placeholders (`password=***`, `${DB_PASSWORD}`), paging and
counting tokens (`next_token=`, `max_tokens=`), sudo's working directory (`PWD=/home/bob`), prose
(`Failed password for`, `Bearer token expired`); the value of a token-like key must look like a
credential (a digit, or both cases). Values of `token`/`secret`/`api_key`-style keys and `Authorization`
credentials become `<TOKEN_REDACTED>`, passwords `<PASSWORD_REDACTED>`.

`mask` guarantees that its output holds no personal data by `find_pii`'s definition (so masking is
idempotent and the storage audit, which scans with `find_pii`, agrees with the masker): in rare
contrived texts a match's neighbour hides a candidate that the replacement token uncovers, and `mask`
then masks again until nothing is found. No pattern matches a replacement token.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

KINDS = ("email", "ip", "cc", "ssn", "phone", "token", "access_key", "password")
TOKENS: dict[str, str] = {
    "email": "<EMAIL_REDACTED>",
    "ip": "<IP_REDACTED>",
    "cc": "<CC_REDACTED>",
    "ssn": "<SSN_REDACTED>",
    "phone": "<PHONE_REDACTED>",
    "token": "<TOKEN_REDACTED>",
    "access_key": "<ACCESS_KEY_REDACTED>",
    "password": "<PASSWORD_REDACTED>",
}


@dataclass(frozen=True)
class PiiMatch:
    """One piece of personal data: its kind and its span `text[start:end]`."""

    kind: str
    start: int
    end: int


# Every pattern starts with a character class, so `re` skips to plausible first characters in C; the
# left boundary is then a lookbehind over the consumed first character. A number must not be glued to a
# letter, digit or `_`, nor continue a dotted or dashed sequence (versions, dates, `blk_-123`, `ORD-123`).
_NUM_LEFT = r"(?<![0-9A-Za-z_][0-9])(?<![0-9A-Za-z_][.-][0-9])"
_NUM_RIGHT = r"(?![0-9A-Za-z_])(?![.-][0-9])"

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
# A dotted quad right after a word that says "version" (`version 10.2.3.4`, `app_version="1.2.3.4"`), or
# after a capitalized product name and a slash (`Chrome/120.0.0.0` in a User-Agent), is a version. Short
# words must stand alone (`server 10.0.0.5` is an address); a lowercase slash form is a path.
_VERSION_BEFORE = re.compile(
    r"(?:(?i:version|release|firmware|kernel|revision)|(?<![A-Za-z])(?i:ver|rev|fw|build|patch))"
    r"[\"']?[ \t]*[:=]?[ \t]*[\"']?v?$"
    r"|(?<![^\s(;,\"'])[A-Z][A-Za-z0-9_.-]*/$"
)

_H = r"[0-9A-Fa-f]{1,4}"
_AFTER_DOUBLE_COLON = rf"(?:(?:{_H}:)*{_OCTETS}|{_H}(?::{_H})*)"
# The first character is not glued to a word, a colon or a dot; after a colon it may start when the word
# before that colon holds a letter that is not hex (`ip6:2001:db8::1`, `addr:fe80::1`), so that word
# cannot be a group of the address.
_IPV6 = re.compile(
    r"[0-9A-Fa-f:](?:(?<![0-9A-Za-z_:.][0-9A-Fa-f:])|(?<=:[0-9A-Fa-f])(?:(?<=[G-Zg-z_]:.)"
    r"|(?<=[G-Zg-z_][0-9A-Fa-f]:.)|(?<=[G-Zg-z_][0-9A-Fa-f]{2}:.)|(?<=[G-Zg-z_][0-9A-Fa-f]{3}:.)))"
    rf"(?:(?<=:):{_AFTER_DOUBLE_COLON}?"  # starts with '::'
    r"|(?<=[0-9A-Fa-f])[0-9A-Fa-f]{0,3}"  # starts with a group: 8 groups, 6 groups and IPv4, or '::'
    rf"(?:(?::{_H}){{7}}|(?::{_H}){{5}}:{_OCTETS}|(?::{_H})*::{_AFTER_DOUBLE_COLON}?))"
    r"(?![0-9A-Za-z_])(?![.:][0-9A-Za-z:])"
)

# Area 000, 666 and 9xx, group 00 and serial 0000 are never issued. One separator throughout: dash or space.
_SSN = re.compile(rf"[0-8]{_NUM_LEFT}[0-9]{{2}}(?<!000)(?<!666)([- ])(?!00)[0-9]{{2}}\1(?!0000)[0-9]{{4}}"
                  rf"{_NUM_RIGHT}")

# Plain 13-19 digits, or the printed groupings with one separator (space or dash) used throughout:
# 4-4-4(-4)(-1..3) and 4-6-4/4-6-5 (Amex, Diners). Digit count and Luhn are checked in Python.
_CC = re.compile(
    rf"[2-6]{_NUM_LEFT}(?:[0-9]{{12,18}}"
    r"|[0-9]{3}([ -])(?:[0-9]{4}(?:\1[0-9]{4}){1,2}(?:\1[0-9]{1,3})?|[0-9]{6}\1[0-9]{4,5}))"
    rf"{_NUM_RIGHT}"
)
_FOUR_DIGITS = re.compile(r" [0-9]{4}(?![0-9])")

# NANP: area code [2-9][0-8]x and exchange [2-9]xx (so `555-123-4567` is no number), an optional leading
# `1`, and `(415) 555-0199` or one separator throughout (`415-555-0199`, `415.555.0199`), perhaps with
# an extension glued on (`x123`).
_PHONE_NANP = re.compile(
    r"(?<![0-9A-Za-z_+/])(?<![0-9A-Za-z_][.-])(?:1[ .-]?)?"
    r"(?:\([2-9][0-8][0-9]\) ?[2-9][0-9]{2}[ .-]|[2-9][0-8][0-9]([.-])[2-9][0-9]{2}\1)[0-9]{4}"
    rf"(?:x[0-9]{{1,5}})?{_NUM_RIGHT}"
)
# International: `+`, a country code, then digits (E.164, 10-15 in all) or groups with separators,
# perhaps a trunk or area code in parentheses (`+44 (0)20 7946 0958`). Timezone offsets (`+0000`,
# `+0530`) start with 0 or have too few digits; the digit count and NANP codes after `+1` are checked in
# Python.
_PHONE_INTL = re.compile(
    r"\+(?<![0-9A-Za-z_+/]\+)[1-9]"
    r"(?:[0-9]{9,14}"
    r"|[0-9]{0,2}\)?(?:[ .-]?\([0-9]{1,4}\)[ .-]?[0-9]{1,10})?(?:[ .-][0-9]{1,10}){1,6})"
    rf"{_NUM_RIGHT}"
)

# A JWT: base64url header and payload (a JSON header always starts `eyJ`, for `{"`), then a signature
# that is empty for unsigned tokens.
_JWT = re.compile(r"eyJ(?<![A-Za-z0-9_-]eyJ)[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
                  r"(?![A-Za-z0-9_-])")

# Access keys with a provider's prefix: AWS key ids (AKIA long-term, ASIA temporary, ABIA/ACCA), Google
# API keys, GitHub, GitLab and Slack tokens, Stripe secret and restricted keys.
_ACCESS_KEY = re.compile(
    r"(?<![A-Za-z0-9_-])(?:(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}|AIza[0-9A-Za-z_-]{35}"
    r"|gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,255}|glpat-[A-Za-z0-9_-]{20,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}|[rs]k_(?:live|test)_[A-Za-z0-9]{16,})"
    r"(?![A-Za-z0-9_-])"
)
# Their prefixes, searched from a literal first character.
_ACCESS_KEY_HINT_A = re.compile(r"A(?:KIA|SIA|BIA|CCA|Iza)")
_ACCESS_KEY_HINT_UNDERSCORE = re.compile(r"_(?:(?<=gh[pousr]_)|(?<=github_pat_)|(?<=[rs]k_live_)"
                                         r"|(?<=[rs]k_test_))")

# `scheme://user:password@host`, found from its `://`: the password runs to the authority's last `@` (a
# raw `@` in a password happens), and a replacement token is never taken for one.
_URL_PASSWORD = re.compile(
    r"://(?<=[A-Za-z0-9+.-]://)[^\s/?#@:\[\]]*:(?!<[A-Z0-9_]+_REDACTED>)(?P<v>[^\s/?#]+)@(?![^\s/?#]*@)"
)

# Secrets as key-values, written in lowercase for the lowercased line (`re.IGNORECASE` on other text):
# the key (`password`, `db_password`, `PGPASSWORD`, `passwd`, `pwd`, `client_secret`, `access_token`,
# `api_key`, `Authorization`), a closing quote of a JSON key, `=`, `:` or `=>`, an optional quote and
# auth scheme, then the value, up to its closing quote, or up to a space or delimiter when unquoted.
_KEY_VALUE = (
    r"(?:(?P<pw>passw(?:or)?d|passphrase|(?<![a-z0-9])(?:pass|pwd))"
    r"|(?P<tok>(?<![a-z0-9])authorization|secret(?:[_.-]?access)?(?:[_.-]?key)?|token"
    r"|api[_.-]?key|private[_.-]?key|account[_.-]?key))"
    r"(?![a-z0-9])\\?[\"']?[ \t]*(?:=>|[:=])[ \t]*"
    r"(?P<q>\\?[\"'])?(?P<scheme>(?:bearer|basic|token|negotiate|ntlm|apikey)[ \t]+)?+"
    r"(?!<[a-z0-9_]+_redacted>)"
    r"(?P<v>(?(q)(?:[^\"'\\\n]|\\[^\"'\n])+|(?:\$\{[^\s{}]*\}|[^\s\"',;&(){}\[\]<>]+)))"
)
_KEY_VALUE_LOWER = re.compile(_KEY_VALUE)
_KEY_VALUE_ANY_CASE = re.compile(_KEY_VALUE, re.IGNORECASE)
# Where a key can start; `_KEY_VALUE` is then matched there. On a lowercased ASCII line the words are
# found by `str.find`; `key` alone is everywhere in logs (cache keys), so it is looked for behind the words
# that make it a secret.
_KEY_WORDS = ("pass", "pwd", "secret", "token", "authoriz")
_SECRET_KEY_HINT = re.compile(r"key(?:(?<=apikey)|(?<=api[_.-]key)|(?<=private[_.-]key)|(?<=privatekey)"
                              r"|(?<=account[_.-]key)|(?<=accountkey))")
_KEY_SUFFIXED = re.compile(r"(?:api|private|account)[_.-]?key")
_KEY_START_ANY_CASE = re.compile(r"pass|pwd|secret|token|authoriz|(?:api|private|account)[_.-]?key",
                                 re.IGNORECASE)
# `Bearer <credential>` outside a key-value (`curl -H Bearer ...`, prose): a credential holds a digit.
_BEARER = r"(?<![a-z0-9])bearer[ \t]+(?!<[a-z0-9_]+_redacted>)(?P<v>[a-z0-9._~+/-]{8,}=*)(?![a-z0-9])"
_BEARER_LOWER = re.compile(_BEARER)
_BEARER_ANY_CASE = re.compile(_BEARER, re.IGNORECASE)
# What stands in place of a secret is not one: masks, empty markers, template and environment references.
_PLACEHOLDER = re.compile(
    r"[*x•#?._-]+|\(?(?:null|none|nil|true|false|empty|undefined|redacted|filtered|hidden|masked|removed"
    r"|yes|no|ok)\)?|\[[a-z _-]*\]|<[^<>]*>|(?-i:\$\{?[A-Z_][A-Z0-9_]*\}?)|\{\{.*\}\}"
    r"|%\(?[a-z_]*\)?s?",
    re.IGNORECASE,
)
# Opaque paging and counting tokens are not credentials (`next_token`, `page_token`, `max_token`).
_NOT_CREDENTIAL_TOKEN = ("next", "page", "continuation", "sync", "resume", "cursor", "max", "num", "count")

# Cheap necessary conditions, searched first; a literal first character lets `re` skip in a tight C loop.
# Each leftmost hint also bounds where that kind's first candidate can start (see `_candidates`).
_IPV4_HINT = re.compile(r"\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]")
_SSN_HINT = re.compile(r"[0-9]{3}([ -])[0-9]{2}\1[0-9]{4}")
_CC_HINT = re.compile(r"[0-9]{4}(?:[0-9]{9}|([ -])[0-9]{4}(?:[0-9]{2})?\1[0-9]{4})")
_PHONE_HINT = re.compile(r"[0-9]{3}[ .-][0-9]{4}")
# Digit runs are everywhere in logs (timestamps, ids), so `_CC_HINT` would start at every digit. On an
# ASCII line the hints run instead on the line's *shape* (digits -> "0", letters and `_` -> "a", space,
# dash and dot kept, the rest -> "x"): a literal prefix of zeros lets `re` try only where digits stand in
# a row, and the left boundary already drops digit runs inside identifiers and dotted or dashed numbers.
_CC_SHAPE_HINT = re.compile(rb"0000(?<![0a]0000)(?<!0[.-]0000)(?:0{9}|([ -])0000(?:00)?\1(?:0000))")
_SSN_SHAPE_HINT = re.compile(rb"000(?<![0a]000)([ -])00\1(?:0000)(?![0a])")
_PHONE_SHAPE_HINT = re.compile(rb"000(?<![0a]000)[ .-]0000(?!0)")
# The three hints above in one search, first: most lines have none of them.
_NUMBER_SHAPE_HINT = re.compile(rb"000(?<![0a]000)(?:0(?<!0[.-]0000)(?:0{9}|([ -])0000(?:00)?\1(?:0000))"
                                rb"|[ .-]0000(?!0)|([ -])00\2(?:0000)(?![0a]))")
_SHAPE = bytes(
    ord("0") if byte in b"0123456789"
    else ord("a") if (chr(byte).isalpha() or byte == ord("_")) and byte < 128
    else byte if byte in b" -." else ord("x")
    for byte in range(256)
)
# Three colon-separated groups in a row: needed by the uncompressed forms (which have no `::`), rare in
# JSON logs and `key:value` lists that have many colons.
_IPV6_HINT = re.compile(r":[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:")

# When candidates of different kinds start at the same place, the first kind here wins: a secret's role
# says more than the shape of its value (`password=4111...`, the `pass@host` of a URL).
_PRIORITY = {"access_key": 0, "token": 1, "password": 2, "email": 3, "ip": 4, "ssn": 5, "phone": 6, "cc": 7}
_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        total += _LUHN_DOUBLED[value] if position & 1 else value
    return total % 10 == 0


def _card_end(text: str, match: re.Match[str]) -> int:
    """Where the card number in `match` ends, or -1: digit count and Luhn, then the same without the last
    group (`4111 1111 1111 1111 123` is a card and a CVV). Grouped by spaces, it must not continue a row of
    numbers nor be followed by another group of four (a table of counters)."""
    candidate, sep = match.group(), match.group(1)
    for end in (match.end(), match.start() + candidate.rfind(sep) if sep else -1):
        if end <= match.start():
            break
        digits = text[match.start():end].replace(sep, "") if sep else candidate
        if 13 <= len(digits) <= 19 and _luhn_ok(digits):
            if sep == " " and (_after_number(text, match.start()) or _FOUR_DIGITS.match(text, end)):
                return -1
            return end
    return -1


def _after_version_word(text: str, start: int) -> bool:
    return _VERSION_BEFORE.search(text[max(0, start - 24):start]) is not None


def _is_ipv4(text: str, match: re.Match[str]) -> bool:
    return (all(int(octet) <= 255 for octet in match.group().split("."))
            and not _after_version_word(text, match.start()))


def _is_ipv6(candidate: str) -> bool:
    # `a::b` or a bare `::` separator is a valid address but, without a digit, not personal data in a log.
    if not any(char.isdigit() for char in candidate):
        return False
    # Eight two-digit groups and no `::`: an EUI-64 or Fibre Channel WWN, not an address.
    if "::" not in candidate and all(len(group) == 2 for group in candidate.split(":")):
        return False
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


def _after_number(text: str, start: int) -> bool:
    return start >= 2 and text[start - 1] == " " and text[start - 2].isdigit()


def _isolated(text: str, start: int, end: int) -> bool:
    """No other number next to `text[start:end]` across one space: not in a row of counters."""
    before_end = end + 1 < len(text) and text[end] == " " and text[end + 1].isdigit()
    return not (_after_number(text, start) or before_end)


def _is_ssn(text: str, match: re.Match[str]) -> bool:
    return match.group(1) == "-" or _isolated(text, match.start(), match.end())


def _nanp_ok(digits: str) -> bool:
    """Ten digits with a NANP area code ([2-9][0-8]x) and exchange ([2-9]xx)."""
    return (len(digits) == 10 and digits[0] >= "2" and digits[1] != "9" and digits[3] >= "2")


def _is_intl_phone(candidate: str) -> bool:
    digits = "".join(char for char in candidate if char.isdigit())
    if digits.startswith("1") and "(0)" not in candidate:
        return _nanp_ok(digits[1:])
    grouped = not candidate[1:].isdigit()
    return (8 if grouped else 10) <= len(digits) <= 15 + ("(0)" in candidate)


def _is_nanp_phone(text: str, match: re.Match[str]) -> bool:
    return match.group(1) != "." or not _after_version_word(text, match.start())


def _credential_like(value: str) -> bool:
    """An opaque token: long enough, with a digit or both cases (prose after `token:` has neither)."""
    return (len(value) >= 8 and not value.isdigit()
            and (any(c.isdigit() for c in value) or (value.lower() != value and value.upper() != value)))


def _key_value_secret(text: str, match: re.Match[str]) -> PiiMatch | None:
    start, end = match.span("v")
    value = text[start:end]
    if _PLACEHOLDER.fullmatch(value) or "_REDACTED>" in value:
        return None
    key = match.group("pw")
    if key is not None:
        key = key.lower()
        short = key in ("pass", "pwd")
        if short and value.isdigit():  # `pass=12 fail=0`: a test counter
            return None
        if key == "pwd" and value[0] in "/~":  # `PWD=/home/bob`: sudo's working directory
            return None
        return PiiMatch("password", start, end)
    key = match.group("tok").lower()
    if key.endswith("token"):
        before = text[max(0, match.start() - 14):match.start()].lower().rstrip("_.-")
        if before.endswith(_NOT_CREDENTIAL_TOKEN):
            return None
    if (key.endswith("authorization") and match.group("scheme")) or _credential_like(value):
        return PiiMatch("token", start, end)
    return None


def _secrets(text: str, ascii_text: bool, found: list[PiiMatch]) -> None:
    """Tokens, access keys and passwords: the kinds found by a keyword or a literal prefix."""
    at = text.find("eyJ")
    if at >= 0:
        found.extend(PiiMatch("token", m.start(), m.end()) for m in _JWT.finditer(text, at))
    if (_ACCESS_KEY_HINT_A.search(text) is not None or _ACCESS_KEY_HINT_UNDERSCORE.search(text) is not None
            or "xox" in text or "glpat-" in text):
        found.extend(PiiMatch("access_key", m.start(), m.end()) for m in _ACCESS_KEY.finditer(text))
    at = text.find("://")
    if at >= 0:
        found.extend(PiiMatch("password", m.start("v"), m.end("v"))
                     for m in _URL_PASSWORD.finditer(text, at) if "_REDACTED>" not in m.group("v"))
    lower = text.lower()
    bearer = lower.find("bearer")
    suffixed = _SECRET_KEY_HINT.search(lower) is not None
    if not ("pass" in lower or "pwd" in lower or "secret" in lower or "token" in lower or "authoriz" in lower
            or suffixed or bearer >= 0):  # the common case
        return
    starts: list[int] = []
    for word in _KEY_WORDS:
        at = lower.find(word)
        while at >= 0:
            starts.append(at)
            at = lower.find(word, at + 1)
    if suffixed:
        starts.extend(m.start() for m in _KEY_SUFFIXED.finditer(lower))
    # Lowercasing keeps an ASCII line's offsets; other text is searched as it is, ignoring case.
    if ascii_text:
        pattern, bearers, subject = _KEY_VALUE_LOWER, _BEARER_LOWER, lower
    else:
        pattern, bearers, subject = _KEY_VALUE_ANY_CASE, _BEARER_ANY_CASE, text
        starts = [m.start() for m in _KEY_START_ANY_CASE.finditer(text)]
        bearer = 0 if bearer >= 0 else -1
    end = 0
    for start in sorted(starts):
        if start < end:  # inside the value just read (`password=password=...` stays linear)
            continue
        m = pattern.match(subject, start)
        if m is not None:
            end = m.end()
            item = _key_value_secret(text, m)
            if item is not None:
                found.append(item)
    if bearer >= 0:
        found.extend(PiiMatch("token", m.start("v"), m.end("v")) for m in bearers.finditer(subject, bearer)
                     if any(c.isdigit() for c in m.group("v")))


def _candidates(text: str) -> list[PiiMatch]:
    """Validated matches of every kind, each kind in order; kinds may overlap one another."""
    found: list[PiiMatch] = []
    at = text.find("@")
    if at >= 0:
        found.extend(PiiMatch("email", m.start(), m.end()) for m in _EMAIL.finditer(text, max(0, at - 64)))
    first = text.find("::")
    hint = _IPV6_HINT.search(text) if text.count(":") >= 6 else None
    if hint is not None and (first < 0 or hint.start() < first):
        first = hint.start()
    if first >= 0:  # an address starts at most 45 characters before its first `::` or three groups
        found.extend(PiiMatch("ip", m.start(), m.end())
                     for m in _IPV6.finditer(text, max(0, first - 45)) if _is_ipv6(m.group()))
    hint = _IPV4_HINT.search(text)
    if hint is not None:  # the first octet ends at most 3 characters before the hint
        found.extend(PiiMatch("ip", m.start(), m.end())
                     for m in _IPV4.finditer(text, max(0, hint.start() - 3)) if _is_ipv4(text, m))
    ascii_text = text.isascii()
    if ascii_text:  # byte offsets in the shape are character offsets
        shape = text.encode("ascii").translate(_SHAPE)
        if _NUMBER_SHAPE_HINT.search(shape) is None:
            ssn_hint = cc_hint = phone_hint = None
        else:
            ssn_hint, cc_hint, phone_hint = (_SSN_SHAPE_HINT.search(shape), _CC_SHAPE_HINT.search(shape),
                                             _PHONE_SHAPE_HINT.search(shape))
    else:
        ssn_hint, cc_hint = _SSN_HINT.search(text), _CC_HINT.search(text)
        phone_hint = _PHONE_HINT.search(text)
    if ssn_hint is not None:
        found.extend(PiiMatch("ssn", m.start(), m.end())
                     for m in _SSN.finditer(text, ssn_hint.start()) if _is_ssn(text, m))
    if cc_hint is not None:
        for m in _CC.finditer(text, cc_hint.start()):
            end = _card_end(text, m)
            if end > 0:
                found.append(PiiMatch("cc", m.start(), end))
    if phone_hint is not None:  # the hint is the exchange; `1-(415) ` stands at most 8 characters before it
        found.extend(PiiMatch("phone", m.start(), m.end())
                     for m in _PHONE_NANP.finditer(text, max(0, phone_hint.start() - 8))
                     if _is_nanp_phone(text, m))
    plus = text.find("+")
    if plus >= 0:
        found.extend(PiiMatch("phone", m.start(), m.end())
                     for m in _PHONE_INTL.finditer(text, plus) if _is_intl_phone(m.group()))
    _secrets(text, ascii_text, found)
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

    Where candidates of different kinds overlap, the leftmost wins (then access key, token, password,
    e-mail, IP, SSN, phone, card).
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
    """`text` with personal data and secrets replaced by `<EMAIL_REDACTED>`-style tokens (see `TOKENS`)."""
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
