"""Variable-type masks: which substrings of a log message are values rather than wording.

All masks are alternatives of ONE precompiled regex (`VARIABLE_RE`) so a message is masked in a single
C-level pass. Each alternative may only start where a token starts (after whitespace or a delimiter such
as `=`, `,`, `(`, `[`), which keeps `node-12` or `key=value` splits consistent from line to line.
Order matters: at one position the first alternative that matches wins, so compound values (URLs, paths,
IP:port, timestamps) come before the generic "token with a digit".
"""

from __future__ import annotations

import re

# Characters that end a token. `:` is not among them (it belongs to times, IPs, URLs) but no generic
# number may cross it, which splits `key:value` pairs.
_DELIMS = r"\s,;=()\[\]{}\"'|<>"
# A value starts at the start of the text, after a delimiter, or after the ':' of `key:value`.
_AT_TOKEN_START = rf"(?<![^{_DELIMS}:])"
_TOKEN_CHAR_NO_COLON = rf"[^{_DELIMS}:]"
_PATH_SEGMENT = rf"[\\/][^{_DELIMS}:\\/]+"

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_WEEKDAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?"

# name -> pattern. The names document the types; the miner needs only "is a variable".
VARIABLE_PATTERNS: dict[str, str] = {
    # The PII masker's tokens (<EMAIL_REDACTED>, <IP_REDACTED>, <CC_REDACTED>, <SSN_REDACTED>, ...).
    "redacted": r"<[A-Z][A-Z0-9_]*_REDACTED>",
    "url": r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+",
    "email": r"[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    "uuid": r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    "datetime": rf"\d{{4}}-\d{{2}}-\d{{2}}[T ]{_CLOCK}(?:Z|[+-]\d{{2}}:?\d{{2}})?",
    "ctime": rf"{_WEEKDAY} {_MONTH} +\d{{1,2}} {_CLOCK}(?: \d{{4}})?",
    "ipv4": r"/?\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?",
    "ipv6": r"(?:[0-9a-fA-F]{1,4}:){3,7}[0-9a-fA-F]{1,4}",
    "host_port": r"(?:[A-Za-z0-9-]+\.)+[A-Za-z0-9-]+:\d+",
    "time": _CLOCK,
    "path": rf"[A-Za-z]:(?:{_PATH_SEGMENT})+|(?:{_PATH_SEGMENT}){{2,}}[\\/]?",
    # Hex, numbers, sizes and durations glued to their unit (10ms, 4KB), ids such as blk_-123 or t761:
    # any token holding a digit, except a word with one trailing digit (SOCKS5, eth0, utf8) that names a
    # thing rather than counts it. A trailing '.' (end of sentence) is not part of the value.
    "numeric": rf"(?![A-Za-z][A-Za-z_]+\d(?![^{_DELIMS}:]))"
    rf"{_TOKEN_CHAR_NO_COLON}*?\d(?:{_TOKEN_CHAR_NO_COLON}*[^{_DELIMS}:.])?",
}

# One capturing group around the whole alternation: `VARIABLE_RE.split(text)` returns
# [text, value, text, value, ..., text] in one C-level call.
VARIABLE_RE = re.compile(
    _AT_TOKEN_START + "(" + "|".join(f"(?:{pattern})" for pattern in VARIABLE_PATTERNS.values()) + ")"
)
