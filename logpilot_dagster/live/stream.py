"""The log stream every live path reads through: one interface, a folder and a Kafka implementation.

A position is an integer per stream partition (a byte offset in a folder file, an offset in a Kafka partition),
keyed by the same string that becomes the rows' `partition_key` (`live/app.jsonl`, `kafka/logpilot-logs/0`), so
`origin` is file and byte offset, or topic/partition/offset. Positions are committed to DuckDB with the rows
they produced (`store.tables.write_live_batch`), never to the stream.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

DEFAULT_BATCH_RECORDS = 50_000
DEFAULT_BATCH_BYTES = 32 << 20


class StreamRecord(NamedTuple):  # a tuple: a batch makes 50k of them, at a third of a dataclass's cost
    partition: str  # the position key, also the rows' partition_key
    offset: int  # where the record starts: byte offset or Kafka offset (the rows' line_no)
    end: int  # the position after it
    value: bytes  # one JSON record {"ts", "source", "message", "level"?}
    timestamp_ms: int | None = None  # Kafka's timestamp, the event time; None in a folder
    too_long: bool = False  # `value` holds only the first bytes of an over-long line


@dataclass(frozen=True)
class StreamRange:
    """What one batch reads: per partition from `start` up to `end` (exclusive). A folder range ends on a
    line boundary, so it is read exactly; a Kafka range's end is a bound (the batch also stops when a bounded
    poll returns nothing), and the next range always starts from the committed positions."""

    start: dict[str, int]
    end: dict[str, int]
    stream_key: str = ""
    max_bytes: int = 0  # a Kafka batch also stops after this many bytes (0: no bound)

    @property
    def empty(self) -> bool:
        return all(self.end.get(k, v) <= v for k, v in self.start.items())

    def to_config(self) -> dict[str, Any]:
        return {"stream_key": self.stream_key, "start": dict(self.start), "end": dict(self.end),
                "max_bytes": self.max_bytes}

    @classmethod
    def from_config(cls, config: dict[str, Any] | str) -> StreamRange:
        data = json.loads(config) if isinstance(config, str) else config
        return cls({k: int(v) for k, v in data["start"].items()}, {k: int(v) for k, v in data["end"].items()},
                   data.get("stream_key", ""), int(data.get("max_bytes", 0)))

    def describe(self) -> str:
        parts = [f"{k} {self.start[k]}..{self.end.get(k)}" for k in sorted(self.start)
                 if self.end.get(k, 0) > self.start[k]]
        return ", ".join(parts[:4]) + (f" (+{len(parts) - 4} partitions)" if len(parts) > 4 else "") or "nothing"


@dataclass
class StreamRead:
    records: list[StreamRecord] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)  # next position per partition read
    bytes_read: int = 0
    caught_up: bool = False  # the stream had nothing more within the range (an empty bounded poll)


class LogStream(ABC):
    """A stream of JSON log records. `plan` and `has_data` look without consuming; `read` reads a range."""

    key: str  # names the stream's committed positions in `ingest_watermarks`

    @abstractmethod
    def plan(self, committed: dict[str, int], start_after: datetime | None,
             max_records: int = DEFAULT_BATCH_RECORDS, max_bytes: int = DEFAULT_BATCH_BYTES) -> StreamRange:
        """The next batch's range from the committed positions; a partition never committed starts where the
        stream holds records after `start_after` (the earliest T1), or at its beginning."""

    @abstractmethod
    def has_data(self, rng: StreamRange) -> bool:
        """Whether the range holds at least one record (a bounded look that commits nothing)."""

    @abstractmethod
    def read(self, rng: StreamRange) -> StreamRead:
        """The records of the range, in order per partition."""

    @abstractmethod
    def append(self, records: list[dict[str, Any]], partition: str | None = None) -> int:
        """Write records (the producer side: `logpilot produce`, tests, benchmarks)."""

    def close(self) -> None:  # noqa: B027 - most streams hold nothing
        """Release connections."""

    def __enter__(self) -> LogStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def encode_record(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
