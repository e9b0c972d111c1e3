"""Header formats: how one source's record splits into timestamp, level, component and message.

Three kinds cover what lands in practice: a regular expression with named groups (syslog, Apache, log4j,
OpenStack, anything line-based), JSON lines, and CSV exports. Each parser answers with a `Header` or with
the quarantine reason that explains why the record could not be read.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import orjson


class HeaderError(ValueError):
    """A record that cannot be parsed; `reason` is the quarantine reason."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Header:
    ts: datetime  # timezone-aware, UTC
    level: str | None
    component: str | None
    message: str
    source: str | None = None  # a per-record source (CSV exports carry one per row)


# --- timestamps ---------------------------------------------------------------------------------------

# What a log line may claim: a wider range is a broken clock or a hostile line, and it would overflow
# DuckDB and pandas arithmetic downstream. Lines dated after "now" are bounded more tightly by staging.
EARLIEST_TS = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TS = datetime(2200, 1, 1, tzinfo=UTC)
MAX_TIMESTAMP_CHARS = 64
MAX_JSON_DEPTH = 64  # a JSON log record deeper than this is not a log record (and would exhaust the stack)

_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}


class TimestampParser:
    """Parses one source's timestamps to UTC.

    `iso` uses the C-speed `datetime.fromisoformat` (comma fractions as in log4j are accepted); `syslog`
    handles RFC 3164's `Mmm dd hh:mm:ss`, which has no year; anything else is a `strptime` format.
    Naive timestamps are read in the source's configured time zone.
    """

    def __init__(self, fmt: str = "iso", timezone: str = "UTC") -> None:
        self.fmt = fmt
        self.zone: tzinfo = UTC if timezone.upper() == "UTC" else ZoneInfo(timezone)
        self._yearless = fmt not in ("iso", "syslog", "epoch") and not any(
            code in fmt for code in ("%Y", "%y", "%G", "%c", "%x"))

    def parse(self, text: str, reference: datetime | None = None) -> datetime:
        if len(text) > MAX_TIMESTAMP_CHARS:
            raise HeaderError("bad_timestamp", f"{len(text)} characters")
        try:
            if self.fmt == "iso":
                value = datetime.fromisoformat(text.replace(",", ".", 1) if "," in text else text)
            elif self.fmt == "syslog":
                value = self._syslog(text, reference)
            elif self.fmt == "epoch":
                value = datetime.fromtimestamp(float(text), UTC)
            elif self._yearless:  # a leap year, so 29 February reads; the year comes from the reference
                value = _with_year(datetime.strptime(f"2000 {text}", f"%Y {self.fmt}"), reference)
            else:
                value = datetime.strptime(text, self.fmt)
            if value.tzinfo is None:
                value = value.replace(tzinfo=self.zone)
            # Near year 1 or 9999 the conversion itself overflows (9999-12-31T23:59:59-12:00).
            value = value.astimezone(UTC)
        except (ValueError, KeyError, OverflowError, OSError, TypeError) as exc:
            raise HeaderError("bad_timestamp", f"{text[:64]!r}: {exc}") from None
        if not EARLIEST_TS <= value <= LATEST_TS:
            raise HeaderError("bad_timestamp", f"{text[:64]!r} is outside {EARLIEST_TS.year}-{LATEST_TS.year}")
        return value

    @staticmethod
    def _syslog(text: str, reference: datetime | None) -> datetime:
        """RFC 3164 has no year (see `_with_year`)."""
        month = _MONTHS[text[:3]]
        day = int(text[4:6])
        hh, mm, ss = int(text[7:9]), int(text[10:12]), int(text[13:15])
        return _with_year(datetime(2000, month, day, hh, mm, ss), reference)


# No line is dated after this much past now (staging's default bound on future timestamps).
_FUTURE_SKEW = timedelta(days=1)


def _with_year(stamp: datetime, reference: datetime | None) -> datetime:
    """A timestamp read without a year, in the year that puts it nearest the reference (the file's date: a
    file named after the day it was started holds lines from after New Year), but never in the future: the
    nearest year to December puts a line of March in the next March."""
    now = datetime.now(UTC)
    ref = reference or now
    if stamp.tzinfo is None:  # compared as wall-clock times (the zone is applied after)
        ref, latest = ref.replace(tzinfo=None), (now + _FUTURE_SKEW).replace(tzinfo=None)
    else:
        ref, latest = (ref if ref.tzinfo else ref.replace(tzinfo=UTC)), now + _FUTURE_SKEW
    candidates = []
    for year in (ref.year - 1, ref.year, ref.year + 1):
        try:
            candidates.append(stamp.replace(year=year))
        except ValueError:  # 29 February outside a leap year
            continue
    if not candidates:
        raise ValueError(f"no year has {stamp:%b %d}")
    past = [c for c in candidates if c <= latest]
    return min(past or candidates, key=lambda c: abs(c - ref))


# --- formats ------------------------------------------------------------------------------------------


class RegexFormat:
    """A line-based format: a regex with named groups `ts`, `message` and optionally `level`, `component`.

    With `multiline`, a line that does not match continues the previous record (stack traces).
    """

    structured = False

    def __init__(self, pattern: str, ts_format: str = "iso", timezone: str = "UTC",
                 multiline: bool = False) -> None:
        self.regex = re.compile(pattern)
        missing = {"ts", "message"} - set(self.regex.groupindex)
        if missing:
            raise ValueError(f"header pattern needs named groups {sorted(missing)}: {pattern}")
        self.timestamps = TimestampParser(ts_format, timezone)
        self.multiline = multiline
        self._has_level = "level" in self.regex.groupindex
        self._has_component = "component" in self.regex.groupindex
        self._has_pri = "pri" in self.regex.groupindex

    def parse(self, line: str, reference: datetime | None = None) -> Header:
        m = self.regex.match(line)
        if m is None:
            raise HeaderError("no_header_match")
        return Header(
            ts=self.timestamps.parse(m["ts"], reference),
            level=_normal_level(m["level"]) if self._has_level else syslog_level(m["pri"]) if self._has_pri else None,
            component=m["component"] if self._has_component else None,
            message=m["message"],
        )


    def split(self, line: str) -> tuple[str | None, str | None, str] | None:
        """(level, component, message) of a line whose header matches, else None; the timestamp is not read
        (live records carry their own). A multi-line message keeps its continuation lines."""
        first, separator, rest = line.partition("\n")
        m = self.regex.match(first)
        if m is None or not (m["message"] or "").strip():
            return None
        level = _normal_level(m["level"]) if self._has_level else syslog_level(m["pri"]) if self._has_pri else None
        return level, m["component"] if self._has_component else None, m["message"] + separator + rest


class JsonLinesFormat:
    """One JSON object per line; field names are configurable."""

    structured = False
    multiline = False

    def __init__(self, ts_field: str = "ts", message_field: str = "msg", level_field: str = "level",
                 component_field: str = "service", ts_format: str = "iso", timezone: str = "UTC") -> None:
        self.ts_field, self.message_field = ts_field, message_field
        self.level_field, self.component_field = level_field, component_field
        self.timestamps = TimestampParser(ts_format, timezone)

    def parse(self, line: str, reference: datetime | None = None) -> Header:
        obj = load_json_object(line)
        message = obj.get(self.message_field)
        if not isinstance(message, str):
            raise HeaderError("bad_json", f"no string field {self.message_field!r}")
        ts = obj.get(self.ts_field)
        if ts is None:
            raise HeaderError("bad_timestamp", f"no field {self.ts_field!r}")
        return Header(
            ts=self.timestamps.parse(str(ts), reference),
            level=_normal_level(_str_or_none(obj.get(self.level_field))),
            component=_str_or_none(obj.get(self.component_field)),
            message=message,
        )


def load_json_object(text: str) -> dict:
    """One JSON object, its nesting bounded before it is parsed; anything else is a `bad_json` HeaderError."""
    if json_depth_exceeds(text, MAX_JSON_DEPTH):
        raise HeaderError("bad_json", f"nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        # What orjson refuses and the standard parser takes (NaN, lone surrogates) is read as before.
        # (An integer beyond 64 bits comes back from orjson as a float; no field LogPilot reads is one.)
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise HeaderError("bad_json", str(exc)[:200]) from None
    if not isinstance(obj, dict):
        raise HeaderError("bad_json", "not a JSON object")
    return obj


def json_depth_exceeds(text: str, limit: int) -> bool:
    """Whether brackets nest deeper than `limit` (strings skipped). Only lines with that many opening
    brackets are scanned, so ordinary records cost two C-speed counts."""
    if text.count("{") + text.count("[") <= limit:
        return False
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
            if depth > limit:
                return True
        elif ch in "}]":
            depth -= 1
    return False


class CsvFormat:
    """A CSV export with a header row; each row is a record, quoted newlines included."""

    structured = True
    multiline = False

    def __init__(self, message_column: str = "log_message", ts_column: str | None = "timestamp",
                 source_column: str | None = "source", level_column: str | None = None,
                 ts_format: str = "iso", timezone: str = "UTC") -> None:
        self.message_column, self.ts_column = message_column, ts_column
        self.source_column, self.level_column = source_column, level_column
        self.timestamps = TimestampParser(ts_format, timezone)

    def check_columns(self, columns: list[str]) -> None:
        needed = [c for c in (self.message_column, self.ts_column) if c]
        missing = [c for c in needed if c not in columns]
        if missing:
            raise HeaderError("bad_csv_header", f"missing columns {missing}, found {columns}")

    def parse_row(self, row: dict[str, Any], reference: datetime | None = None) -> Header:
        message = row.get(self.message_column)
        if message is None or None in row:
            raise HeaderError("bad_csv_row", "wrong number of fields")
        ts_text = row.get(self.ts_column) if self.ts_column else None
        if not ts_text:
            raise HeaderError("bad_timestamp", "empty timestamp")
        return Header(
            ts=self.timestamps.parse(ts_text, reference),
            level=_normal_level(row.get(self.level_column)) if self.level_column else None,
            component=None,
            message=message,
            source=(row.get(self.source_column) or None) if self.source_column else None,
        )

    @staticmethod
    def reader(lines: Any) -> csv.DictReader:
        return csv.DictReader(lines)


LogFormat = RegexFormat | JsonLinesFormat | CsvFormat

# Named formats a sources registry can refer to; a source may also give its own `pattern`.
BUILTIN_PATTERNS: dict[str, tuple[str, str]] = {
    "openstack": (
        r"^(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?) (?P<pid>\d+) (?P<level>[A-Z]+) "
        r"(?P<component>\S+) (?P<message>.*)$", "iso"),
    "syslog": (
        r"^(?:<(?P<pri>\d{1,3})>)?(?P<ts>[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}) (?P<host>\S+) "
        r"(?P<component>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?: (?P<message>.*)$", "syslog"),
    "apache_error": (
        r"^\[(?P<ts>\w{3} \w{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4})\] \[(?P<level>\w+)\] (?P<message>.*)$",
        "%a %b %d %H:%M:%S %Y"),
    "log4j": (
        r"^(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}[,.]\d{3}) (?P<level>[A-Z]+) +\[(?P<thread>[^\]]+)\] "
        r"(?P<component>\S+) - (?P<message>.*)$", "iso"),
}

_LEVELS = {"WARNING": "WARN", "ERR": "ERROR", "CRIT": "CRITICAL", "FATAL": "CRITICAL", "NOTICE": "INFO",
           "EMERG": "CRITICAL", "ALERT": "CRITICAL", "INFORMATION": "INFO", "TRACE": "DEBUG",
           # one letter, as Android's logcat, glog and klog write them
           "V": "DEBUG", "D": "DEBUG", "I": "INFO", "W": "WARN", "E": "ERROR", "F": "CRITICAL"}


def _normal_level(level: str | None) -> str | None:
    if not level:
        return None
    upper = level.upper()
    return _LEVELS.get(upper, upper)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def syslog_level(pri: str | None) -> str | None:
    """RFC 3164 PRI = facility * 8 + severity."""
    if not pri:
        return None
    return ("CRITICAL", "CRITICAL", "CRITICAL", "ERROR", "WARN", "INFO", "INFO", "DEBUG")[int(pri) % 8]
