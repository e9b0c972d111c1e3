"""Loghub header formats: `<Date> <Time> <Level> <Component>: <Content>` into a regex that yields the message.

A format string names each header field as `<Field>`; `<Content>` is the message. Everything between the
fields is a regular expression (Loghub's `formats.json` writes a literal bracket as `\\[` and an optional
part as `( ... )?`), except that a run of spaces matches any run of whitespace, as in the logparser toolkit.
Fields match lazily; `Content` runs to the end of the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FIELD_RE = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)>")
CONTENT = "Content"


@dataclass(frozen=True)
class HeaderFormat:
    """A compiled header format: `fields` in order, `regex` with one named group per field."""

    format: str
    fields: tuple[str, ...]
    regex: re.Pattern[str]

    def split(self, line: str) -> dict[str, str] | None:
        """The fields of `line`, or None when the line does not have this header."""
        match = self.regex.match(line)
        return match.groupdict() if match else None

    def content(self, line: str) -> str | None:
        """The message part of `line`, or None when the line does not have this header."""
        match = self.regex.match(line)
        return match.group(CONTENT) if match else None


def compile_format(log_format: str) -> HeaderFormat:
    """Compile a Loghub `log_format`; ValueError when it has no `<Content>` or repeats a field."""
    pieces = _FIELD_RE.split(log_format)
    fields = tuple(pieces[1::2])
    if CONTENT not in fields:
        raise ValueError(f"log format {log_format!r} has no <{CONTENT}> field")
    if len(set(fields)) != len(fields):
        raise ValueError(f"log format {log_format!r} names a field twice")
    parts: list[str] = ["^"]
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            parts.append(re.sub(" +", r"\\s+", piece))
        elif piece == CONTENT:
            parts.append(f"(?P<{piece}>.*)" if index == len(pieces) - 2 and not pieces[-1] else f"(?P<{piece}>.*?)")
        else:
            parts.append(f"(?P<{piece}>.*?)")
    parts.append("$")
    try:
        regex = re.compile("".join(parts))
    except re.error as exc:
        raise ValueError(f"log format {log_format!r} is not a valid pattern: {exc}") from exc
    return HeaderFormat(log_format, fields, regex)
