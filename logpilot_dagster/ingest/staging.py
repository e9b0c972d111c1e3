"""Stage one landing file: decode, split headers, join multi-line records, mask personal data, write Parquet.

Every physical line ends up in exactly one place: inside a staged record (`n_lines` counts the lines a
record spans) or in the quarantine with a reason. Masking happens on the decoded text before anything is
parsed or written, so nothing unmasked reaches the disk; quarantined bytes are masked too.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from logpilot_dagster.ingest.formats import CsvFormat, Header, HeaderError, RegexFormat
from logpilot_dagster.ingest.reader import KEPT_PREFIX_BYTES, RawLine, Truncated, read_lines
from logpilot_dagster.ingest.sources import SourceSpec, SourcesRegistry
from logpilot_dagster.pii import mask
from logpilot_dagster.store.layout import HomeLayout

BATCH_ROWS = 50_000
UTF8_BOM = b"\xef\xbb\xbf"
MAX_RECORD_CHARS = 1 << 20  # a multi-line record is capped like a line; the rest is quarantined

# `origin` (file:line) is not stored: the `logs` table derives it from partition_key and line_no.
STAGED_SCHEMA = pa.schema([
    ("log_id", pa.uint64()),
    ("partition_key", pa.string()),
    ("source", pa.string()),
    ("ts", pa.timestamp("us", tz="UTC")),
    ("level", pa.string()),
    ("component", pa.string()),
    ("message", pa.string()),
    ("line_no", pa.int64()),
    ("n_lines", pa.int32()),
    ("ingest_mode", pa.string()),
])

QUARANTINE_SCHEMA = pa.schema([
    ("partition_key", pa.string()),
    ("source", pa.string()),
    ("origin", pa.string()),
    ("line_no", pa.int64()),
    ("n_lines", pa.int32()),
    ("reason", pa.string()),
    ("detail", pa.string()),
    ("raw_b64", pa.string()),
    ("raw_size", pa.int64()),
])


@dataclass
class StageStats:
    partition_key: str
    source: str | None
    lines_read: int = 0
    header_lines: int = 0  # CSV header rows: read, but not log lines
    records: int = 0
    record_lines: int = 0
    quarantined_lines: int = 0
    quarantine_entries: int = 0
    quarantine_by_reason: Counter[str] = field(default_factory=Counter)
    pii_masked_lines: int = 0
    min_ts: str | None = None
    max_ts: str | None = None

    @property
    def conserved(self) -> bool:
        return self.lines_read - self.header_lines == self.record_lines + self.quarantined_lines

    def to_json(self) -> str:
        data = asdict(self)
        data["quarantine_by_reason"] = dict(self.quarantine_by_reason)
        return json.dumps(data, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> StageStats:
        data = json.loads(text)
        data["quarantine_by_reason"] = Counter(data["quarantine_by_reason"])
        return cls(**data)


@dataclass(frozen=True, slots=True)
class _Record:
    line_no: int
    n_lines: int
    header: Header


@dataclass(frozen=True, slots=True)
class _Bad:
    line_no: int
    n_lines: int
    reason: str
    detail: str
    raw: bytes
    raw_size: int


@dataclass(frozen=True)
class StageLimits:
    """Bounds a record must stay within; a record outside them is quarantined with the reason named."""

    # `future_timestamp`: dated more than this after the moment it was staged (a wrong clock, a typo'd
    # year); such a line would otherwise move the bootstrap watermark past every live record.
    max_future_skew: timedelta = timedelta(days=1)
    max_component_chars: int = 512  # `field_too_long`
    max_level_chars: int = 32
    now: datetime | None = None  # the staging clock; None: the wall clock when the file is staged


def stage_file(layout: HomeLayout, partition_key: str, registry: SourcesRegistry,
               limits: StageLimits | None = None, ingest_mode: str = "bootstrap") -> StageStats:
    """Stage the landing file `partition_key`; idempotent (outputs are replaced). Writes the staged and the
    quarantine Parquet, then the stats file (last: its presence means staging finished)."""
    limits = limits or StageLimits()
    path = layout.landing_file(partition_key)
    spec = registry.source_for(partition_key)
    stats = StageStats(partition_key, spec.name if spec else None)
    writer = _StagedWriter(layout.staged_file(partition_key), layout.quarantine_file(partition_key),
                           partition_key, stats, ingest_mode)
    with writer:
        if _leaves_landing(path, layout.landing):
            # Never opened: a link can point at anything on the machine (/etc/passwd, another home).
            writer.bad(_Bad(0, 0, "symlink", "a symbolic link (or a path through one); links are not followed",
                            b"", 0))
        elif not path.is_file():
            writer.bad(_Bad(0, 0, "missing_file", f"{partition_key} is not a file in the landing folder", b"", 0))
        elif path.stat().st_size == 0:
            writer.bad(_Bad(0, 0, "empty_file", "the file has no bytes", b"", 0))
        elif spec is None:
            for item in _undecoded(path):
                stats.lines_read += 1 if isinstance(item, RawLine) else item.n_lines
                writer.bad(item if isinstance(item, _Bad) else
                           _Bad(item.line_no, 1, "no_source", "no source in the registry matches this path",
                                item.data, len(item.data)))
        else:
            reference = file_date(partition_key, path)
            latest = (limits.now or datetime.now(UTC)) + limits.max_future_skew
            for item in _records(path, spec, reference, stats):
                if isinstance(item, _Record):
                    item = _within_limits(item, limits, latest)
                if isinstance(item, _Bad):
                    writer.bad(item)
                else:
                    writer.record(item, spec.name)
    stats_file = layout.stage_stats_file(partition_key)
    tmp = stats_file.with_name(stats_file.name + ".tmp")
    tmp.write_text(stats.to_json(), encoding="utf-8")
    tmp.replace(stats_file)
    return stats


def read_stage_stats(layout: HomeLayout, partition_key: str) -> StageStats:
    return StageStats.from_json(layout.stage_stats_file(partition_key).read_text(encoding="utf-8"))


def _leaves_landing(path: Path, landing: Path) -> bool:
    """A symlink, or a path through a linked folder: its real location is not where the key says."""
    if path.is_symlink():
        return True
    try:
        path.resolve().relative_to(landing.resolve())
    except ValueError:
        return True
    return path.resolve() != landing.resolve() / path.relative_to(landing)


def _within_limits(record: _Record, limits: StageLimits, latest: datetime) -> _Record | _Bad:
    header = record.header
    reason = detail = None
    if header.ts > latest:
        reason, detail = "future_timestamp", f"{header.ts.isoformat()} is after {latest.isoformat()}"
    elif header.component and len(header.component) > limits.max_component_chars:
        reason, detail = "field_too_long", f"component of {len(header.component)} characters"
    elif header.level and len(header.level) > limits.max_level_chars:
        reason, detail = "field_too_long", f"level of {len(header.level)} characters"
    if reason is None:
        return record
    raw = header.message.encode("utf-8")
    return _Bad(record.line_no, record.n_lines, reason, detail, raw[:KEPT_PREFIX_BYTES], len(raw))


# --- decoding -----------------------------------------------------------------------------------------


def _undecoded(path: Path) -> Iterator[RawLine | _Bad]:
    """Physical lines with the reader's own problems (too long, truncated gzip) already turned into _Bad."""
    for item in read_lines(path):
        if isinstance(item, Truncated):
            yield _Bad(item.lines_before + 1, 0, "truncated_gzip", item.detail, b"", 0)
        elif item.too_long:
            yield _Bad(item.line_no, 1, "line_too_long", f"{item.size} bytes", item.data, item.size)
        else:
            yield item


def _decoded(path: Path, stats: StageStats) -> Iterator[tuple[int, str] | _Bad]:
    """Masked text lines, or _Bad for lines that cannot be trusted as text."""
    for item in _undecoded(path):
        if isinstance(item, _Bad):
            if item.n_lines:
                stats.lines_read += 1
            yield item
            continue
        stats.lines_read += 1
        data = item.data
        if b"\x00" in data:
            yield _Bad(item.line_no, 1, "nul_bytes", "the line contains NUL bytes", data, len(data))
            continue
        if item.line_no == 1 and data.startswith(UTF8_BOM):  # editors and Windows exports add one
            data = data[len(UTF8_BOM):]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield _Bad(item.line_no, 1, "undecodable", f"not UTF-8 at byte {exc.start}", data, len(data))
            continue
        masked = mask(text)
        if masked != text:
            stats.pii_masked_lines += 1
        yield item.line_no, masked


def _records(path: Path, spec: SourceSpec, reference: datetime, stats: StageStats) -> Iterator[_Record | _Bad]:
    fmt = spec.log_format
    if isinstance(fmt, CsvFormat):
        yield from _csv_records(path, fmt, reference, stats)
        return
    pending: _Record | None = None  # an open multi-line record
    pending_parts: list[str] = []
    for item in _decoded(path, stats):
        if isinstance(item, _Bad):
            yield item
            continue
        line_no, text = item
        if not text.strip():
            yield _Bad(line_no, 1, "blank_line", "", b"", 0)
            continue
        try:
            header = fmt.parse(text, reference)
        except HeaderError as exc:
            if exc.reason == "no_header_match" and isinstance(fmt, RegexFormat) and fmt.multiline \
                    and pending is not None and sum(map(len, pending_parts)) < MAX_RECORD_CHARS:
                pending_parts.append(text)
                continue
            yield _Bad(line_no, 1, exc.reason, exc.detail, text.encode("utf-8"), len(text))
            continue
        if pending is not None:
            yield _joined(pending, pending_parts)
        pending, pending_parts = _Record(line_no, 1, header), [header.message]
    if pending is not None:
        yield _joined(pending, pending_parts)


def _joined(record: _Record, parts: list[str]) -> _Record:
    if len(parts) == 1:
        return record
    header = record.header
    joined = Header(header.ts, header.level, header.component, "\n".join(parts), header.source)
    return _Record(record.line_no, len(parts), joined)


def _csv_records(path: Path, fmt: CsvFormat, reference: datetime, stats: StageStats) -> Iterator[_Record | _Bad]:
    """CSV rows may span lines (quoted newlines): track physical lines through the csv reader."""
    text_lines: list[tuple[int, str]] = []

    def feed() -> Iterator[str]:
        for item in _decoded(path, stats):
            if isinstance(item, _Bad):
                bad_lines.append(item)
                continue
            text_lines.append(item)
            yield item[1] + "\n"

    bad_lines: list[_Bad] = []
    reader = csv.reader(feed())
    columns: list[str] | None = None
    header_error: HeaderError | None = None
    for row in reader:
        yield from bad_lines
        bad_lines.clear()
        consumed, text_lines[:] = list(text_lines), []
        first_line, n_lines = consumed[0][0], len(consumed)
        if columns is None:
            columns = row
            stats.header_lines += n_lines
            try:
                fmt.check_columns(columns)
            except HeaderError as exc:
                header_error = exc
            continue
        raw = "\n".join(t for _, t in consumed).encode("utf-8")
        if header_error is not None:
            yield _Bad(first_line, n_lines, header_error.reason, header_error.detail, raw, len(raw))
            continue
        if not any(cell.strip() for cell in row):
            yield _Bad(first_line, n_lines, "blank_line", "", b"", 0)
            continue
        try:
            if len(row) != len(columns):
                raise HeaderError("bad_csv_row", f"{len(row)} fields, header has {len(columns)}")
            header = fmt.parse_row(dict(zip(columns, row, strict=True)), reference)
        except HeaderError as exc:
            yield _Bad(first_line, n_lines, exc.reason, exc.detail, raw, len(raw))
            continue
        yield _Record(first_line, n_lines, header)
    yield from bad_lines
    if text_lines:  # an unterminated quoted field at the end of the file
        raw = "\n".join(t for _, t in text_lines).encode("utf-8")
        yield _Bad(text_lines[0][0], len(text_lines), "bad_csv_row", "unterminated quote", raw, len(raw))


_PATH_DATE = re.compile(r"((?:19|20)\d{2})-?(\d{2})(?:-?(\d{2}))?")


def file_date(partition_key: str, path: Path) -> datetime:
    """What year-less timestamps of a landing file are read against: the date in its name, else its mtime."""
    return _date_in_path(partition_key) or datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _date_in_path(partition_key: str) -> datetime | None:
    """Dates in file names (syslog-20250301.log) anchor year-less timestamps."""
    m = _PATH_DATE.search(partition_key)
    if not m:
        return None
    try:
        return datetime(int(m[1]), int(m[2]), int(m[3] or 28), 23, 59, 59, tzinfo=UTC)
    except ValueError:
        return None


# --- writing ------------------------------------------------------------------------------------------


def _log_id(source: str, partition_key: str, line_no: int) -> int:
    """Stable across re-runs: the same line of the same file always gets the same id.

    A 64-bit integer (an 8-byte blake2b digest): a fixed-width column loads and compresses far cheaper than
    a string.
    """
    digest = hashlib.blake2b(f"{source}|{partition_key}|{line_no}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _masked_bytes(raw: bytes) -> bytes:
    """Mask personal data inside bytes that are not valid text: latin-1 maps bytes 1:1 to characters."""
    return mask(raw.decode("latin-1")).encode("latin-1", errors="replace")


class _StagedWriter:
    """Buffers rows and writes Parquet (zstd) in row groups, so memory stays flat as files grow."""

    def __init__(self, staged: Path, quarantined: Path, partition_key: str, stats: StageStats,
                 ingest_mode: str) -> None:
        self.paths = {"staged": staged, "quarantine": quarantined}
        self.partition_key, self.stats, self.ingest_mode = partition_key, stats, ingest_mode
        self.rows: dict[str, list] = {name: [] for name in STAGED_SCHEMA.names}
        self.bad_rows: dict[str, list] = {name: [] for name in QUARANTINE_SCHEMA.names}
        self.writers: dict[str, pq.ParquetWriter] = {}

    def __enter__(self) -> _StagedWriter:
        for path in self.paths.values():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)
        return self

    def record(self, record: _Record, source_name: str) -> None:
        header, rows, stats = record.header, self.rows, self.stats
        source = header.source or source_name
        rows["log_id"].append(_log_id(source_name, self.partition_key, record.line_no))
        rows["partition_key"].append(self.partition_key)
        rows["source"].append(source)
        rows["ts"].append(header.ts)
        rows["level"].append(header.level)
        rows["component"].append(header.component)
        rows["message"].append(header.message)
        rows["line_no"].append(record.line_no)
        rows["n_lines"].append(record.n_lines)
        rows["ingest_mode"].append(self.ingest_mode)
        stats.records += 1
        stats.record_lines += record.n_lines
        if len(rows["log_id"]) >= BATCH_ROWS:
            self._flush("staged", STAGED_SCHEMA, rows)

    def bad(self, bad: _Bad) -> None:
        rows, stats = self.bad_rows, self.stats
        rows["partition_key"].append(self.partition_key)
        rows["source"].append(stats.source)
        rows["origin"].append(f"{self.partition_key}:{bad.line_no}")
        rows["line_no"].append(bad.line_no)
        rows["n_lines"].append(bad.n_lines)
        rows["reason"].append(bad.reason)
        rows["detail"].append(mask(bad.detail)[:500])
        rows["raw_b64"].append(base64.b64encode(_masked_bytes(bad.raw)).decode("ascii"))
        rows["raw_size"].append(bad.raw_size)
        stats.quarantined_lines += bad.n_lines
        stats.quarantine_entries += 1
        stats.quarantine_by_reason[bad.reason] += 1
        if len(rows["partition_key"]) >= BATCH_ROWS:
            self._flush("quarantine", QUARANTINE_SCHEMA, rows)

    def _flush(self, name: str, schema: pa.Schema, rows: dict[str, list]) -> None:
        if name not in self.writers:
            self.writers[name] = pq.ParquetWriter(self.paths[name], schema, compression="zstd")
        self.writers[name].write_table(pa.table(rows, schema=schema))
        if name == "staged" and rows["ts"]:
            low, high = min(rows["ts"]).isoformat(), max(rows["ts"]).isoformat()
            self.stats.min_ts = min(filter(None, (self.stats.min_ts, low)))
            self.stats.max_ts = max(filter(None, (self.stats.max_ts, high)))
        for column in rows.values():
            column.clear()

    def __exit__(self, *exc: object) -> None:
        # Always write both files (possibly empty) so downstream readers never guess.
        for name, schema, rows in (("staged", STAGED_SCHEMA, self.rows),
                                   ("quarantine", QUARANTINE_SCHEMA, self.bad_rows)):
            if rows[schema.names[0]] or name not in self.writers:
                self._flush(name, schema, rows)
        for writer in self.writers.values():
            writer.close()
