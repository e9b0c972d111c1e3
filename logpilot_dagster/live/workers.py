"""Decoding and template matching of a live batch in worker processes: the CPU-bound part, on every core.

Each worker holds its own copy of the miner, read-only, and takes a newer one the writer saved at most every
`RELOAD_AFTER` records (each task carries the miner file's stamp). What a worker returns is a pure function of the records,
T1, the staging limits, the sources registry and that miner state, so which worker took which chunk
changes nothing. Learning stays with the writer: rows matched to "nothing learned yet" come back as such
and the writer learns them and matches them again, under the miner lock.

One worker (or a small batch) runs in the writer's own process, with the writer's miner and no pool.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from logpilot_dagster.bootstrap.pool import default_workers, process_pool
from logpilot_dagster.extract.parsed import PARSED_SCHEMA, _parse_batch
from logpilot_dagster.ingest.staging import StageLimits
from logpilot_dagster.live.records import decode
from logpilot_dagster.live.source_formats import LiveSourceFormats
from logpilot_dagster.live.stream import StreamRecord
from logpilot_dagster.mining import LogMiner
from logpilot_dagster.store.layout import HomeLayout

MIN_CHUNK = 5_000  # records; below this a pool costs more than it saves
# A worker reloads the miner after the writer saved a newer one only this many records after its last load:
# a load drops every matching cache (about half a second of matching to warm them again). Until then, lines
# of templates learned since come back unmatched, and the writer matches them with its current miner.
RELOAD_AFTER = 200_000
# The miner's matching caches grow with every distinct shape it sees (up to 50k per source); a long-running
# matcher drops them after this many records, so its memory stays flat however long the backlog is.
FORGET_CACHES_EVERY = 200_000


@dataclass
class Chunk:
    """What decoding and matching made of some records."""

    rows: pa.Table  # parsed rows (`PARSED_SCHEMA`)
    quarantined: pa.Table
    skipped_before_t1: int = 0
    quarantine_by_reason: Counter = field(default_factory=Counter)
    unknown_headers: dict[str, list[str]] = field(default_factory=dict)


class _Matcher:
    """A process's read-only miner, reloaded when the saved state changed."""

    def __init__(self, layout: HomeLayout) -> None:
        self.layout = layout
        self.formats = LiveSourceFormats(layout)
        self.stamp: int | None = -1
        self.miner: LogMiner | None = None
        self.matched = 0  # records matched since the caches were last dropped
        self.since_load = 0

    def current(self, stamp: int | None) -> LogMiner:
        if self.miner is None or (stamp != self.stamp and self.since_load >= RELOAD_AFTER):
            self.miner, self.stamp, self.matched, self.since_load = LogMiner.load(self.layout.miner), stamp, 0, 0
        return self.miner

    def process(self, records: list[StreamRecord], t1: dict[str, datetime], limits: StageLimits | None,
                stamp: int | None, miner: LogMiner | None = None) -> Chunk:
        """`miner`: the writer's own (its caches are bounded where they are built), for work done in its
        process; otherwise this matcher's copy."""
        self.formats.refresh()
        decoded = decode(records, t1, limits, self.formats)
        if miner is None:
            miner = self.current(stamp)
            self.matched += len(records)
            self.since_load += len(records)
            if self.matched >= FORGET_CACHES_EVERY:
                miner.forget_derived()
                self.matched = 0
        staged = decoded.staged()
        rows = _parse_batch(staged, miner) if staged.num_rows else PARSED_SCHEMA.empty_table()
        return Chunk(rows, decoded.quarantined(), decoded.skipped_before_t1, decoded.quarantine_by_reason,
                     decoded.unknown_headers)


_worker: dict[str, _Matcher] = {}


def _start_worker(home: str) -> None:
    _worker["matcher"] = _Matcher(HomeLayout.from_env(home))


def _work(records: tuple[list, ...], t1, limits, stamp) -> Chunk:  # noqa: ANN001 - pickled arguments
    return _worker["matcher"].process(from_columns(records), t1, limits, stamp)


def to_columns(records: list[StreamRecord]) -> tuple[list, ...]:
    """Records as six lists: pickled, they cross to a worker in a few ms (a list of bytes is copied as it is,
    and the repeated partition string is sent once), where 25k record objects took ~120 ms."""
    return ([r.partition for r in records], [r.offset for r in records], [r.end for r in records],
            [r.value for r in records], [r.timestamp_ms for r in records], [r.too_long for r in records])


def from_columns(columns: tuple[list, ...]) -> list[StreamRecord]:
    return list(map(StreamRecord, *columns))


class BatchWorkers:
    """Decode and match a batch's records on `workers` processes (started on first use, kept until closed)."""

    def __init__(self, layout: HomeLayout, workers: int | None = None) -> None:
        self.layout = layout
        self.workers = workers if workers is not None else default_workers()
        self._pool: ProcessPoolExecutor | None = None
        self._local: _Matcher | None = None

    def process(self, records: list[StreamRecord], t1: dict[str, datetime], limits: StageLimits | None,
                stamp: int | None, miner: LogMiner | None = None) -> Chunk:
        return self.submit(records, t1, limits, stamp, miner).result()

    def submit(self, records: list[StreamRecord], t1: dict[str, datetime], limits: StageLimits | None,
               stamp: int | None, miner: LogMiner | None = None) -> Job:
        """Start decoding and matching `records`; a small batch is done at once, in this process (with
        `miner`, the writer's own, when given). A pool that broke (a worker killed) is replaced, and its
        batch done in this process: nothing of it was committed."""
        if self.workers <= 1 or len(records) < 2 * MIN_CHUNK:
            return Job(done=self._here(records, t1, limits, stamp, miner))
        if self._pool is None:
            self._pool = process_pool(self.workers, _start_worker, (str(self.layout.home),))
        n = min(self.workers, len(records) // MIN_CHUNK)
        size = -(-len(records) // n)
        try:
            futures = [self._pool.submit(_work, to_columns(records[i:i + size]), t1, limits, stamp)
                       for i in range(0, len(records), size)]
        except BrokenProcessPool:
            self._drop_pool()
            return Job(done=self._here(records, t1, limits, stamp, miner))

        def redo() -> Chunk:
            self._drop_pool()
            return self._here(records, t1, limits, stamp, miner)

        return Job(futures=futures, redo=redo)

    def _here(self, records: list[StreamRecord], t1: dict[str, datetime], limits: StageLimits | None,
              stamp: int | None, miner: LogMiner | None) -> Chunk:
        if self._local is None:
            self._local = _Matcher(self.layout)
        return self._local.process(records, t1, limits, stamp, miner)

    def _drop_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        self._local = None


@dataclass
class Job:
    """A batch being decoded and matched: its result, or the workers' futures for its chunks (and the same
    work in this process, should the pool break before they are done)."""

    done: Chunk | None = None
    futures: list[Future] = field(default_factory=list)
    redo: Callable[[], Chunk] | None = None

    def result(self) -> Chunk:
        if self.done is None:
            try:
                self.done = merge([future.result() for future in self.futures])
            except BrokenProcessPool:
                if self.redo is None:
                    raise
                self.done = self.redo()
            self.futures = []
        return self.done


def merge(chunks: list[Chunk]) -> Chunk:
    out = Chunk(pa.concat_tables([c.rows for c in chunks]), pa.concat_tables([c.quarantined for c in chunks]))
    for chunk in chunks:
        out.skipped_before_t1 += chunk.skipped_before_t1
        out.quarantine_by_reason.update(chunk.quarantine_by_reason)
        for source, lines in chunk.unknown_headers.items():
            out.unknown_headers.setdefault(source, []).extend(lines)
    return out
