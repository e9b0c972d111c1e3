"""Decode stream records into staged rows, quarantine entries, or "at or before T1" (the bootstrap has them).

The same rules as staging a landing file: personal data masked before anything is kept (quarantined bytes
too), the staging bounds (`StageLimits`: future timestamps, field lengths), the JSON depth bound, and one
quarantine reason per record that cannot be ingested.
"""

from __future__ import annotations

import base64
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa

from logpilot_dagster.ingest.formats import (
    HeaderError,
    RegexFormat,
    TimestampParser,
    _normal_level,
    load_json_object,
)
from logpilot_dagster.ingest.staging import (
    QUARANTINE_SCHEMA,
    STAGED_SCHEMA,
    StageLimits,
    _log_id,
    _masked_bytes,
)
from logpilot_dagster.live.source_formats import PER_BATCH, LiveSourceFormats, carries_header
from logpilot_dagster.live.stream import StreamRecord
from logpilot_dagster.pii import mask

INGEST_MODE = "live"
_ISO = TimestampParser("iso")


@dataclass
class Decoded:
    rows: dict[str, list] = field(default_factory=lambda: {n: [] for n in STAGED_SCHEMA.names})
    bad: dict[str, list] = field(default_factory=lambda: {n: [] for n in QUARANTINE_SCHEMA.names})
    skipped_before_t1: int = 0
    quarantine_by_reason: Counter = field(default_factory=Counter)
    # Masked messages of sources no registry entry names that still carry a header (see `source_formats`).
    unknown_headers: dict[str, list[str]] = field(default_factory=dict)

    def staged(self) -> pa.Table:
        return pa.table(self.rows, schema=STAGED_SCHEMA)

    def quarantined(self) -> pa.Table:
        return pa.table(self.bad, schema=QUARANTINE_SCHEMA)


class _Bad(Exception):
    def __init__(self, reason: str, detail: str = "", source: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.detail, self.source = reason, detail, source


def decode(records: list[StreamRecord], t1: dict[str, datetime], limits: StageLimits | None = None,
           formats: LiveSourceFormats | None = None) -> Decoded:
    """`formats`: which sources are registered and which of them have a header to split off (see
    `source_formats`); without it every message is taken as it is."""
    limits = limits or StageLimits()
    latest = (limits.now or datetime.now(UTC)) + limits.max_future_skew
    out = Decoded()
    rows = out.rows
    known, header_formats = (formats.known, formats.header_formats) if formats is not None else (None, {})
    for record in records:
        try:
            source, ts, level, component, message = _fields(record, limits, latest)
            mark = t1.get(source)
            if mark is not None and ts <= mark:
                out.skipped_before_t1 += 1
                continue
            message = mask(message)
            split = header_formats.get(source)
            if split is not None:  # on the masked text, as the format was inferred from masked samples
                level, component, message = _split_header(split, message, level, component, limits, source)
        except _Bad as bad:
            _quarantine(out, record, bad)
            continue
        if known is not None and source not in known and carries_header(message):
            sample = out.unknown_headers.setdefault(source, [])
            if len(sample) < PER_BATCH:
                sample.append(message)
        rows["log_id"].append(_log_id(source, record.partition, record.offset))
        rows["partition_key"].append(record.partition)
        rows["source"].append(source)
        rows["ts"].append(ts)
        rows["level"].append(level)
        rows["component"].append(component)
        rows["message"].append(message)
        rows["line_no"].append(record.offset)
        rows["n_lines"].append(1)
        rows["ingest_mode"].append(INGEST_MODE)
    return out


def _fields(record: StreamRecord, limits: StageLimits, latest: datetime):
    value = record.value
    if value.endswith(b"\r"):
        value = value[:-1]
    if record.too_long:
        raise _Bad("line_too_long", f"more than {len(value)} bytes")
    if not value.strip():
        raise _Bad("blank_line")
    if b"\x00" in value:
        raise _Bad("nul_bytes", "the record contains NUL bytes")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Bad("undecodable", f"not UTF-8 at byte {exc.start}") from None
    try:
        obj = load_json_object(text)
    except HeaderError as exc:
        raise _Bad(exc.reason, exc.detail) from None
    source = obj.get("source")
    source = source if isinstance(source, str) and source.strip() else None
    message = obj.get("message")
    if not isinstance(message, str):
        raise _Bad("bad_json", "no string field 'message'", source)
    if source is None:
        raise _Bad("no_source", "no string field 'source'")
    try:
        if record.timestamp_ms is not None and record.timestamp_ms >= 0:
            # Kafka's timestamp is the event time; the record's own `ts` is used where it has none.
            try:
                stamp = datetime.fromtimestamp(record.timestamp_ms / 1000, UTC).isoformat()
            except (OverflowError, OSError, ValueError) as exc:
                raise HeaderError("bad_timestamp", f"Kafka timestamp {record.timestamp_ms}: {exc}") from None
            ts = _ISO.parse(stamp)
        else:
            raw_ts = obj.get("ts")
            if not isinstance(raw_ts, str):
                raise HeaderError("bad_timestamp", "no string field 'ts'")
            ts = _ISO.parse(raw_ts)
    except HeaderError as exc:
        raise _Bad(exc.reason, exc.detail, source) from None
    if ts > latest:
        raise _Bad("future_timestamp", f"{ts.isoformat()} is after {latest.isoformat()}", source)
    level = obj.get("level")
    level = _normal_level(level) if isinstance(level, str) else None
    component = obj.get("component")
    component = component if isinstance(component, str) and component else None
    _check_lengths(level, component, limits, source)
    return source, ts, level, component, message


def _check_lengths(level: str | None, component: str | None, limits: StageLimits, source: str) -> None:
    if level and len(level) > limits.max_level_chars:
        raise _Bad("field_too_long", f"level of {len(level)} characters", source)
    if component and len(component) > limits.max_component_chars:
        raise _Bad("field_too_long", f"component of {len(component)} characters", source)


def _split_header(fmt: RegexFormat, message: str, level: str | None, component: str | None, limits: StageLimits,
                  source: str) -> tuple[str | None, str | None, str]:
    """Level, component and message from the header of a source whose entry has `live_header`; the record's
    own level and component come first. A message the header does not match is kept whole."""
    try:
        fields = fmt.split(message)
    except Exception:  # noqa: BLE001 - an odd line must not stop the batch: it is kept as it is
        fields = None
    if fields is None:
        return level, component, message
    header_level, header_component, rest = fields
    level, component = level or header_level, component or header_component
    _check_lengths(level, component, limits, source)
    return level, component, rest


def _quarantine(out: Decoded, record: StreamRecord, bad: _Bad) -> None:
    rows = out.bad
    rows["partition_key"].append(record.partition)
    rows["source"].append(bad.source)
    rows["origin"].append(f"{record.partition}:{record.offset}")
    rows["line_no"].append(record.offset)
    rows["n_lines"].append(1)
    rows["reason"].append(bad.reason)
    rows["detail"].append(mask(bad.detail)[:500])
    rows["raw_b64"].append(base64.b64encode(_masked_bytes(record.value)).decode("ascii"))
    rows["raw_size"].append(record.end - record.offset)
    out.quarantine_by_reason[bad.reason] += 1
