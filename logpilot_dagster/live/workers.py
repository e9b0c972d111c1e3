"""Decoding and template matching of a live batch in worker processes: the CPU-bound part, on every core.

What a worker does is in `matching`; this module is the pool around it and imports nothing heavy, so a
command can start the workers first (`BatchWorkers.start`) and let the fork server import and the workers
load their miners while the command itself is still importing. One worker (or a small batch) runs in the
writer's own process, with the writer's miner and no pool.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from logpilot_dagster.bootstrap.pool import default_workers, preload, process_pool
from logpilot_dagster.live.stream import StreamRecord
from logpilot_dagster.store.layout import HomeLayout

if TYPE_CHECKING:
    from logpilot_dagster.ingest.staging import StageLimits
    from logpilot_dagster.live.matching import Chunk, Matcher
    from logpilot_dagster.mining import LogMiner

    # Gives the writer's own miner, for work done in this process (called only then: it may load it).
    LocalMiner = Callable[[], LogMiner] | None

MIN_CHUNK = 5_000  # records; below this a pool costs more than it saves
preload("logpilot_dagster.live.matching")  # what each worker would otherwise import for itself

_worker: dict[str, Matcher] = {}


def _start_worker(home: str) -> None:
    from logpilot_dagster.live.matching import Matcher  # preloaded by the fork server

    matcher = _worker["matcher"] = Matcher(HomeLayout.from_env(home))
    matcher.load()


def _ready() -> None:
    """A task that only makes a worker start (and run `_start_worker`)."""


def _work(records: tuple[list, ...], t1, limits, stamp) -> Chunk:  # noqa: ANN001 - pickled arguments
    from logpilot_dagster.mining.miner import gc_paused  # preloaded with the matching code

    with gc_paused():  # a chunk's 25k records would trigger collections that walk the whole loaded miner
        return _worker["matcher"].process(from_columns(records), t1, limits, stamp)


def to_columns(records: list[StreamRecord]) -> tuple[list, ...]:
    """Records as six lists: pickled, they cross to a worker in a few ms (a list of bytes is copied as it is,
    and the repeated partition string is sent once), where 25k record objects took ~120 ms."""
    return ([r.partition for r in records], [r.offset for r in records], [r.end for r in records],
            [r.value for r in records], [r.timestamp_ms for r in records], [r.too_long for r in records])


def from_columns(columns: tuple[list, ...]) -> list[StreamRecord]:
    return list(map(StreamRecord, *columns))


class BatchWorkers:
    """Decode and match a batch's records on `workers` processes (started on first use or by `start`, kept
    until closed)."""

    def __init__(self, layout: HomeLayout, workers: int | None = None) -> None:
        self.layout = layout
        self.workers = workers if workers is not None else default_workers()
        self._pool: ProcessPoolExecutor | None = None
        self._local: Matcher | None = None

    def start(self) -> BatchWorkers:
        """Start the workers now, in the background: the fork server imports the matching code and each
        worker loads the miner while the caller goes on (the first batch then finds them ready)."""
        if self.workers > 1 and self._pool is None:
            pool = self._pool = self._new_pool()
            threading.Thread(target=_warm, args=(pool, self.workers), name="live-workers-start", daemon=True).start()
        return self

    def _new_pool(self) -> ProcessPoolExecutor:
        return process_pool(self.workers, _start_worker, (str(self.layout.home),))

    def process(self, records: list[StreamRecord], t1: dict[str, datetime], limits: StageLimits | None,
                stamp: int | None, miner: LocalMiner = None) -> Chunk:
        return self.submit(records, t1, limits, stamp, miner).result()

    def pooled(self, records: int) -> bool:
        """Whether a batch of this many records goes to the pool (smaller ones are done in this process)."""
        return self.workers > 1 and records >= 2 * MIN_CHUNK

    def submit(self, records: list[StreamRecord], t1: dict[str, datetime], limits: StageLimits | None,
               stamp: int | None, miner: LocalMiner = None) -> Job:
        """Start decoding and matching `records`; a small batch is done at once, in this process (with the
        miner `miner` gives, the writer's own, when given). A pool that broke (a worker killed) is replaced,
        and its batch done in this process: nothing of it was committed."""
        if not self.pooled(len(records)):
            return Job(done=self._here(records, t1, limits, stamp, miner))
        if self._pool is None:
            self._pool = self._new_pool()
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
              stamp: int | None, miner: LocalMiner) -> Chunk:
        if self._local is None:
            from logpilot_dagster.live.matching import Matcher

            self._local = Matcher(self.layout)
        return self._local.process(records, t1, limits, stamp, miner() if miner is not None else None)

    def _drop_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        self._local = None


def _warm(pool: ProcessPoolExecutor, workers: int) -> None:
    # One task per worker: the pool starts a process for each task it cannot give to an idle one, and none
    # is idle before its miner is loaded. A pool that breaks here is found (and replaced) by the first batch.
    try:
        for _ in range(workers):
            pool.submit(_ready)
    except (BrokenProcessPool, RuntimeError):  # RuntimeError: closed before it started
        pass


@dataclass
class Job:
    """A batch being decoded and matched: its result, or the workers' futures for its chunks (and the same
    work in this process, should the pool break before they are done)."""

    done: Chunk | None = None
    futures: list[Future] = field(default_factory=list)
    redo: Callable[[], Chunk] | None = None

    def result(self) -> Chunk:
        if self.done is None:
            from logpilot_dagster.live.matching import merge

            try:
                self.done = merge([future.result() for future in self.futures])
            except BrokenProcessPool:
                if self.redo is None:
                    raise
                self.done = self.redo()
            self.futures = []
        return self.done
