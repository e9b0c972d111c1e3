"""The sample sources: where each one's files go, how a record is printed, and how its bad lines look.

Each class matches one entry of `ingest/default_sources.toml` (glob and format), so everything generated
here stages cleanly except the bad lines the generator puts in on purpose.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, timedelta

from logpilot_dagster.samples import catalog, values
from logpilot_dagster.samples.templates import Template, t

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SYSLOG_SEVERITY = {"emerg": 0, "alert": 1, "crit": 2, "err": 3, "warning": 4, "notice": 5, "info": 6,
                   "debug": 7}

# Quarantine reasons, as `ingest.staging` names them.
UNDECODABLE = "undecodable"
NUL_BYTES = "nul_bytes"
LINE_TOO_LONG = "line_too_long"
NO_HEADER_MATCH = "no_header_match"
BAD_JSON = "bad_json"
EMPTY_FILE = "empty_file"
TRUNCATED_GZIP = "truncated_gzip"
NO_SOURCE = "no_source"
BAD_REASONS = (UNDECODABLE, NUL_BYTES, LINE_TOO_LONG, NO_HEADER_MATCH, BAD_JSON, EMPTY_FILE, TRUNCATED_GZIP,
               NO_SOURCE)

_INVALID_UTF8 = (b"\xff\xfe", b"\xc3\x28", b"caf\xe9", b"M\xfcller", b"\x80\x81\x82", b"\xe2\x28\xa1",
                 b"Gr\xf6\xdfe", b"\xa0")


@dataclass(frozen=True, slots=True)
class Day:
    """One calendar day of the sample, pre-formatted the ways the sources print dates."""

    index: int
    day: date
    start_ms: int  # the part of the day inside the sample window, in ms since midnight
    end_ms: int
    iso: str  # 2026-03-04


def rotated(day: date) -> date:
    """Weekly rotation (logrotate's default), named after the Sunday the file was started."""
    return day - timedelta(days=(day.weekday() + 1) % 7)


def clock(ms: int) -> tuple[int, int, int, int]:
    hh, rest = divmod(ms, 3_600_000)
    mm, rest = divmod(rest, 60_000)
    ss, milli = divmod(rest, 1000)
    return hh, mm, ss, milli


class SampleSource:
    """A source of the sample. Subclasses say how files are named and how a record is printed."""

    name = ""
    templates: tuple[Template, ...] = ()
    weight = 0.0  # share of the sample's lines
    monthly = False  # one file per month instead of per day
    gzip_share = 0.0  # chance that a file is gzip-compressed
    business_hours = True  # volume follows office hours (else a flatter machine rhythm)
    weekend_factor = 0.5
    terminator = "\n"
    bad_kinds: tuple[str, ...] = (NUL_BYTES, UNDECODABLE, NO_HEADER_MATCH)
    header_row: str | None = None  # a first line that is not a record (CSV column names)
    continuation_lines = False  # records continue on lines without a header (stack traces)
    forced_bad: str | None = None  # a bad-line kind every sample gets from this source, however small
    forced_at = 0.5  # ... placed this far into the history
    truncated_file_at: float | None = None  # a gzip file from this far into the history is cut in half

    def __init__(self) -> None:
        for number, tpl in enumerate(self.templates, start=1):
            tpl.template_id = f"{self.name}-{number:02d}"
            tpl.source = self.name

    def file_name(self, day: date) -> str:
        raise NotImplementedError

    def start_file(self, rng: random.Random) -> None:
        """Per-file state (process ids, pods); called when a new file is opened."""

    def format(self, day: Day, ms: int, tpl: Template, message: str, rng: random.Random) -> str:
        raise NotImplementedError

    def record_source(self, tpl: Template) -> str:
        """The `source` a staged record gets (CSV exports name their own system per row)."""
        return self.name

    def expected_lines_per_record(self) -> float:
        return 1.0

    def forced_lines(self, day: Day, ms: int, rng: random.Random, file_start: bool) -> list[tuple[str, str]]:
        """Bad lines (text, reason) every sample gets from this source, written before `forced_bad`."""
        return []

    @property
    def forces_bad_input(self) -> bool:
        return self.forced_bad is not None or type(self).forced_lines is not SampleSource.forced_lines

    def bad_lines(self, kind: str, line: str, rng: random.Random) -> list[tuple[bytes, bool]]:
        """A record's line turned into bad input of `kind`: (bytes without line end, still holds the record's
        text), one entry per physical line."""
        if kind == NUL_BYTES:
            return [(nul_bytes(line, rng), True)]
        if kind == UNDECODABLE:
            return [(undecodable(line, rng), True)]
        if kind == NO_HEADER_MATCH:
            garbage = self.garbage(line, rng)
            derived = len(garbage) == 1 and line.endswith(garbage[0])
            return [(text.encode("utf-8"), derived) for text in garbage]
        raise ValueError(f"{self.name} writes no bad lines of kind {kind!r}")

    def garbage(self, line: str, rng: random.Random) -> list[str]:
        """Lines that match no header: here the tail of a line whose start was lost (copytruncate)."""
        cut = rng.randint(2, 20)
        return [line[cut:]]


class NovaSource(SampleSource):
    name = "nova"
    templates = catalog.NOVA
    weight = 0.19
    gzip_share = 0.35
    business_hours = False
    weekend_factor = 0.85
    forced_bad = NO_HEADER_MATCH

    def file_name(self, day: date) -> str:
        return f"nova/nova-compute.log.{rotated(day).isoformat()}"

    def start_file(self, rng: random.Random) -> None:
        self._pids = {"api": rng.randint(2000, 30000), "compute": rng.randint(2000, 30000)}

    def format(self, day: Day, ms: int, tpl: Template, message: str, rng: random.Random) -> str:
        hh, mm, ss, milli = clock(ms)
        component = tpl.extra["component"]
        pid = self._pids["api" if "wsgi" in component or "api" in component else "compute"]
        return f"{day.iso} {hh:02d}:{mm:02d}:{ss:02d}.{milli:03d} {pid} {tpl.level} {component} {message}"

    def garbage(self, line: str, rng: random.Random) -> list[str]:
        if rng.random() < 0.5:
            return super().garbage(line, rng)
        # eventlet prints tracebacks to stderr, which ends up in the same file without a header
        return ["Traceback (most recent call last):",
                '  File "/usr/lib/python3/dist-packages/eventlet/hubs/hub.py", line 476, in fire_timers',
                "    timer()",
                "BrokenPipeError: [Errno 32] Broken pipe"]


class SyslogSource(SampleSource):
    name = "syslog"
    templates = catalog.SYSLOG
    weight = 0.18
    gzip_share = 0.35
    business_hours = False
    weekend_factor = 0.8
    forced_bad = NUL_BYTES
    truncated_file_at = 1 / 3

    def file_name(self, day: date) -> str:
        return f"syslog/syslog-{rotated(day).strftime('%Y%m%d')}.log"

    def format(self, day: Day, ms: int, tpl: Template, message: str, rng: random.Random) -> str:
        hh, mm, ss, _ = clock(ms)
        pri = tpl.extra["facility"] * 8 + SYSLOG_SEVERITY[tpl.level]
        prog = tpl.extra["prog"]
        if tpl.extra.get("pid", True):
            prog = f"{prog}[{values.pid(rng)}]"
        return (f"<{pri}>{MONTHS[day.day.month - 1]} {day.day.day:>2} {hh:02d}:{mm:02d}:{ss:02d} "
                f"{values.host(rng)} {prog}: {message}")

    def garbage(self, line: str, rng: random.Random) -> list[str]:
        pri_end = line.index(">") + 1 if line.startswith("<") else 0
        cut = rng.randint(2, 20)
        if cut == pri_end:  # cutting off exactly the PRI would leave a valid line
            cut += 1
        return [line[cut:]]


class ApacheSource(SampleSource):
    name = "apache"
    templates = catalog.APACHE
    weight = 0.08
    monthly = True
    gzip_share = 0.35
    business_hours = True
    weekend_factor = 0.7
    bad_kinds = (UNDECODABLE, NO_HEADER_MATCH)

    def file_name(self, day: date) -> str:
        return f"apache/error_log-{day.strftime('%Y%m')}"

    def format(self, day: Day, ms: int, tpl: Template, message: str, rng: random.Random) -> str:
        hh, mm, ss, _ = clock(ms)
        d = day.day
        stamp = f"{WEEKDAYS[d.weekday()]} {MONTHS[d.month - 1]} {d.day:02d} {hh:02d}:{mm:02d}:{ss:02d}"
        stamp += f" {d.year}"
        return f"[{stamp}] [{tpl.level}] {message}"


class AppJsonSource(SampleSource):
    name = "app_json"
    templates = catalog.APP_JSON
    weight = 0.18
    gzip_share = 0.35
    weekend_factor = 0.6
    bad_kinds = (BAD_JSON, BAD_JSON, NUL_BYTES, UNDECODABLE)
    forced_bad = BAD_JSON

    def file_name(self, day: date) -> str:
        return f"app_json/app-{rotated(day).isoformat()}.jsonl"

    def start_file(self, rng: random.Random) -> None:
        self._pods = {}

    def format(self, day: Day, ms: int, tpl: Template, message: str, rng: random.Random) -> str:
        hh, mm, ss, milli = clock(ms)
        service = tpl.extra["service"]
        pod = self._pods.get(service)
        if pod is None:
            pod = self._pods[service] = f"{service}-{values.hex_id(rng, 5)}-{values.hex_id(rng, 5)}"
        record = {"ts": f"{day.iso}T{hh:02d}:{mm:02d}:{ss:02d}.{milli:03d}Z", "level": tpl.level,
                  "service": service, "msg": message, "pod": pod, "trace_id": values.hex_id(rng)}
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"))

    def bad_lines(self, kind: str, line: str, rng: random.Random) -> list[tuple[bytes, bool]]:
        """Besides the common kinds: a writer that died mid-line, or a Python dict printed instead of JSON."""
        if kind != BAD_JSON:
            return super().bad_lines(kind, line, rng)
        if rng.random() < 0.6:  # cut inside the trailing trace id, before it could pass for a card number
            text = line[:line.rindex('"trace_id":"') + 12 + rng.randint(0, 12)]
        else:
            obj = json.loads(line)
            text = repr({"ts": obj["ts"], "level": obj["level"], "service": obj["service"], "msg": obj["msg"]})
        return [(text.encode("utf-8"), True)]

    def forced_lines(self, day: Day, ms: int, rng: random.Random, file_start: bool) -> list[tuple[str, str]]:
        """One record over the 1 MiB line limit: a response body dumped into a debug log."""
        hh, mm, ss, milli = clock(ms)
        body = rng.randbytes(600_000).hex()
        line = json.dumps({"ts": f"{day.iso}T{hh:02d}:{mm:02d}:{ss:02d}.{milli:03d}Z", "level": "debug",
                           "service": "gateway", "msg": f"upstream response body: {body}"},
                          separators=(",", ":"))
        return [(line, LINE_TOO_LONG)]


class CrmExportSource(SampleSource):
    name = "crm_export"
    templates = catalog.CRM_EXPORT
    weight = 0.16
    monthly = True
    weekend_factor = 0.3
    terminator = "\r\n"  # exported from a Windows tool
    bad_kinds = (UNDECODABLE,)
    header_row = "timestamp,source,log_message"

    def file_name(self, day: date) -> str:
        return f"crm_export/export-{day.strftime('%Y-%m')}.csv"

    def format(self, day: Day, ms: int, tpl: Template, message: str, rng: random.Random) -> str:
        hh, mm, ss, _ = clock(ms)
        return f"{day.iso} {hh:02d}:{mm:02d}:{ss:02d},{tpl.extra['system']},{csv_field(message)}"

    def record_source(self, tpl: Template) -> str:
        return tpl.extra["system"]

    def expected_lines_per_record(self) -> float:
        total = sum(x.weight for x in self.templates)
        return sum(x.weight * (1 + x.text.count("\n")) for x in self.templates) / total


class LegacyCrmSource(SampleSource):
    name = "legacy_crm"
    templates = catalog.LEGACY_CRM
    weight = 0.05
    monthly = True
    weekend_factor = 0.3
    bad_kinds = (UNDECODABLE, UNDECODABLE, NO_HEADER_MATCH)
    forced_bad = UNDECODABLE

    _STRAY = ("*** SYNC START ***", "----------------------------------------", "   at CrmSync.Run()",
              "ERR 0x80004005 (see above)", "Kundendaten exportiert.")

    def file_name(self, day: date) -> str:
        return f"legacy_crm/legacy_crm-{day.strftime('%Y-%m')}.log"

    def format(self, day: Day, ms: int, tpl: Template, message: str, rng: random.Random) -> str:
        hh, mm, ss, _ = clock(ms)
        return f"{day.iso} {hh:02d}:{mm:02d}:{ss:02d} LegacyCRM: {message}"

    def garbage(self, line: str, rng: random.Random) -> list[str]:
        if rng.random() < 0.5:
            return [rng.choice(self._STRAY)]
        return super().garbage(line, rng)


_THREADS = {
    "worker": lambda rng: f"pool-{rng.randint(1, 4)}-thread-{rng.randint(1, 16)}",
    "http": lambda rng: f"http-nio-8080-exec-{rng.randint(1, 40)}",
    "kafka": lambda rng: "kafka-producer-network-thread | billing-1",
    "scheduling-1": lambda rng: "scheduling-1",
    "monitor": lambda rng: "metrics-reporter-1",
}


class BillingSource(SampleSource):
    name = "billing"
    templates = catalog.BILLING
    weight = 0.16
    gzip_share = 0.35
    weekend_factor = 0.5
    # A line that matches no header continues the previous record here (stack traces), so the only
    # header-less lines that reach the quarantine are the ones at the start of a file.
    bad_kinds = (NUL_BYTES, UNDECODABLE)
    continuation_lines = True
    forced_at = 2 / 3

    # exception -> (message, frames, cause, cause frames), the variable parts as templates
    _traces = {name: (t("Error", "", 1, message), tuple(t("Error", "", 1, f) for f in frames), cause,
                      tuple(t("Error", "", 1, f) for f in cause_frames))
               for name, (message, frames, cause, cause_frames) in catalog.EXCEPTIONS.items()}

    def file_name(self, day: date) -> str:
        return f"billing/billing-{rotated(day).isoformat()}.log"

    def format(self, day: Day, ms: int, tpl: Template, message: str, rng: random.Random) -> str:
        hh, mm, ss, milli = clock(ms)
        thread = _THREADS[tpl.extra["thread"]](rng)
        head = (f"{day.iso} {hh:02d}:{mm:02d}:{ss:02d},{milli:03d} {tpl.level:<5} [{thread}] "
                f"{tpl.extra['logger']} - {message}")
        trace = tpl.extra.get("trace")
        if trace is None or rng.random() >= trace[1]:
            return head
        return head + "\n" + "\n".join(self.stack_trace(trace[0], rng))

    def stack_trace(self, exception: str, rng: random.Random) -> list[str]:
        message, frames, cause, cause_frames = self._traces[exception]
        common = catalog.COMMON_FRAMES[-rng.randint(3, len(catalog.COMMON_FRAMES)):]
        lines = [f"{exception}: {message.render(rng)[0]}"]
        lines += [f"\tat {frame.render(rng)[0]}" for frame in frames]
        lines += [f"\tat {frame}" for frame in common]
        if cause is not None:
            lines.append(f"Caused by: {cause}")
            lines += [f"\tat {frame.render(rng)[0]}" for frame in cause_frames]
            lines.append(f"\t... {len(frames) + len(common) - 1} more")
        return lines

    def expected_lines_per_record(self) -> float:
        total = sum(x.weight for x in self.templates)
        traced = sum(x.weight * x.extra["trace"][1] for x in self.templates if "trace" in x.extra)
        return 1 + 12 * traced / total

    def forced_lines(self, day: Day, ms: int, rng: random.Random, file_start: bool) -> list[tuple[str, str]]:
        """A file that starts with the tail of a stack trace whose first lines went to the previous file."""
        if not file_start:
            return []
        tail = self.stack_trace("java.sql.SQLTransientConnectionException", rng)[3:]
        return [(line, NO_HEADER_MATCH) for line in tail]


SOURCES: tuple[SampleSource, ...] = (NovaSource(), SyslogSource(), ApacheSource(), AppJsonSource(),
                                     CrmExportSource(), LegacyCrmSource(), BillingSource())


def csv_field(text: str) -> str:
    """A CSV field as `csv.writer` writes it (QUOTE_MINIMAL)."""
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def undecodable(line: str, rng: random.Random) -> bytes:
    """The line with bytes that are not UTF-8: Latin-1 text from an old client, or binary junk."""
    data = line.encode("utf-8")
    if any(ord(c) > 127 for c in line) and rng.random() < 0.8:
        latin = line.encode("latin-1", errors="replace")
        if not _is_utf8(latin):
            return latin
    spaces = [i for i in range(len(data) // 2, len(data)) if data[i] == 0x20] or [len(data)]
    at = rng.choice(spaces)
    return data[:at] + b" " + rng.choice(_INVALID_UTF8) + data[at:]


def nul_bytes(line: str, rng: random.Random) -> bytes:
    """NULs in front of a line (a crash while the file was preallocated) or inside it."""
    data = line.encode("utf-8")
    if rng.random() < 0.7:
        return b"\x00" * rng.randint(16, 2048) + data
    at = rng.choice([i for i in range(len(data)) if data[i] == 0x20] or [len(data)])
    return data[:at] + b"\x00" + data[at:]  # next to a space, so no value is cut in two


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
