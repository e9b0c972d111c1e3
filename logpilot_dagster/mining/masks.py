"""Variable-type masks: which substrings of a log message are values rather than wording.

All masks are alternatives of ONE precompiled regex (`VARIABLE_RE`) so a message is masked in a single
C-level pass. Each alternative starts where a token starts (after whitespace or a delimiter such as `=`,
`,`, `(`, `[`) and must end where a token ends (a value never stops inside a word: `62.99.1.2.example.net`
is one value, not an IP followed by wording), so `node-12` or `key=value` split the same way on every line.
At one position the first alternative that matches wins, so compound values (quoted `key="a b"` values,
URLs, paths, IP:port, timestamps, sizes and durations with their unit) come before the generic "token
with a digit". The rules are generic types, never strings of a particular log.
"""

from __future__ import annotations

import re

# Characters that end a token. `:` is not among them (it belongs to times, IPs, URLs) but no generic
# number may cross it, which splits `key:value` pairs.
_DELIMS = r"\s,;=()\[\]{}\"'|<>"
# A value starts at the start of the text, after a delimiter, or after the ':' of `key:value`.
_AT_TOKEN_START = rf"(?<![^{_DELIMS}:])"
# ... and ends at a delimiter, a ':', or the end, allowing one sentence-ending '.' before it.
_AT_TOKEN_END = rf"(?=\.?(?:[{_DELIMS}:]|$))"
_TOKEN_CHAR_NO_COLON = rf"[^{_DELIMS}:]"
_PATH_SEGMENT = rf"[\\/][^{_DELIMS}:?\\/]+"

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_WEEKDAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?"
_UNIT = (r"(?:[KMGTP]i?B|B|bytes?|KB/s|MB/s|[kKMG]bps|ns|us|µs|ms|s|secs?|seconds?|mins?|minutes?|h|hrs?|hours?"
         r"|days?)")

# A unit on its own, as the word after a number.
UNIT_RE = re.compile(_UNIT)

# name -> pattern. The names document the types; the miner needs only "is a variable".
VARIABLE_PATTERNS: dict[str, str] = {
    # The PII masker's tokens (<EMAIL_REDACTED>, <IP_REDACTED>, <CC_REDACTED>, <SSN_REDACTED>, ...).
    "redacted": r"<[A-Z][A-Z0-9_]*_REDACTED>",
    # The value of `key="..."` / `key='...'`: a quoted value is one value, spaces and all.
    "quoted_value": r"(?<==)(?:\"[^\"\n]*\"|'[^'\n]*')",
    # `key=value` and `key:value` (no space): the value of a key is a variable, whatever its type. A
    # value directly followed by `=` or `:` is the next key (`release:lock=1`), not a value.
    "kv_value": rf"(?:(?<==)|(?<=[A-Za-z]:)){_TOKEN_CHAR_NO_COLON}+(?![^\s,;()\[\]{{}}\"'|<>])",
    # A qualified name or path with a line number or port: Class.method:42, file.py:10, host-1.lan:8080.
    "qualified_number": rf"{_TOKEN_CHAR_NO_COLON}*[./]{_TOKEN_CHAR_NO_COLON}*:\d+" + _AT_TOKEN_END,
    # Literal values of a type rather than wording.
    "literal": rf"(?:true|false|null|None|True|False|NULL)(?![^{_DELIMS}:])",
    "url": r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+",
    "email": r"[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}" + _AT_TOKEN_END,
    "uuid": r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}" + _AT_TOKEN_END,
    "datetime": rf"\d{{4}}-\d{{2}}-\d{{2}}[T ]{_CLOCK}(?:Z|[+-]\d{{2}}:?\d{{2}})?" + _AT_TOKEN_END,
    "ctime": rf"{_WEEKDAY} {_MONTH} +\d{{1,2}} {_CLOCK}(?: \d{{4}})?" + _AT_TOKEN_END,
    "ipv4": r"/?\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?" + _AT_TOKEN_END,
    "ipv6": r"(?:[0-9a-fA-F]{1,4}:){3,7}[0-9a-fA-F]{1,4}" + _AT_TOKEN_END,
    "host_port": r"(?:[A-Za-z0-9-]+\.)+[A-Za-z0-9-]+:\d+" + _AT_TOKEN_END,
    "time": _CLOCK + _AT_TOKEN_END,
    # A key, hash or token in base64: long, mixed case, with a '+' or '/' (it may hold no digit at all).
    "base64": r"(?=[A-Za-z0-9+/]*[+/])(?=[A-Za-z0-9+/]*[a-z])(?=[A-Za-z0-9+/]*[A-Z])[A-Za-z0-9+/]{20,}={0,2}"
    + _AT_TOKEN_END,
    # A path, with its query string if it has one (`/v2/servers?all=True&since=...`).
    "path": rf"(?:[A-Za-z]:(?:{_PATH_SEGMENT})+|(?:{_PATH_SEGMENT}){{2,}}[\\/]?)(?:\?[^\s\"'<>]*)?" + _AT_TOKEN_END,
    # A number glued to its unit: 10ms, 4KB, 1.5s. A spaced unit (`4 KB`, `300 bytes`) is a token of its
    # own, which Drain3 compares like a value (see `tokenize.drain_content`): the template keeps it when
    # it is always the same (`took <*> ms`) and makes it a `<*>` when it varies (`KB` / `MB`).
    "quantity": rf"\d+(?:\.\d+)?{_UNIT}(?![^{_DELIMS}:])",
    # Hex, numbers, ids such as blk_-123, t761 or 24-54-76-216.example.net: any token holding a digit
    # (whole, to its end), except a word with one trailing digit (SOCKS5, eth0, utf8) that names a thing
    # rather than counts it. A trailing '.' (end of sentence) is not part of the value.
    "numeric": rf"(?![A-Za-z][A-Za-z_]+\d(?![^{_DELIMS}:]))"
    rf"{_TOKEN_CHAR_NO_COLON}*?\d(?:{_TOKEN_CHAR_NO_COLON}*[^{_DELIMS}:.])?",
}

# A plain word: letters only, up to a delimiter other than ':' (or the end), and not the value of a key
# (after `=` or `:`). Of all the masks only `literal` and `ctime` can start there (every other one needs
# a digit, a ':', '@', '.', '/', '-', a quote or '<' inside its first token, or a key before it), so at a
# plain word, by far the most common token start, the other alternatives are not tried at all. The split
# is the same; masking is roughly a quarter faster.
_PLAIN_WORD = rf"(?<![=:])(?=[A-Za-z]++(?:[{_DELIMS}]|$))"
_PLAIN_WORD_PATTERNS = ("literal", "ctime")


def _alternation(names) -> str:  # noqa: ANN001 - an iterable of VARIABLE_PATTERNS keys
    return "|".join(f"(?:{VARIABLE_PATTERNS[name]})" for name in names)


# One capturing group around the whole alternation: `VARIABLE_RE.split(text)` returns
# [text, value, text, value, ..., text] in one C-level call.
VARIABLE_RE = re.compile(
    _AT_TOKEN_START
    + f"((?:{_PLAIN_WORD}(?:{_alternation(_PLAIN_WORD_PATTERNS)}))|(?!{_PLAIN_WORD})(?:{_alternation(VARIABLE_PATTERNS)}))"
)

# A masked value that is a plain word (`root` in `user=root`): the miner remembers these per source, as
# evidence that the same word elsewhere (`session closed for user root`) is a value too.
VALUE_WORD_RE = re.compile(r"(?<![^\x00])[A-Za-z][A-Za-z_-]{1,31}(?![^\x00])")
