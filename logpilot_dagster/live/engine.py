"""The live engine: read a stream range, mask, match templates, extract, write rows + positions atomically.

Exactly once rests on three things: rows carry a stable `log_id` (source, stream partition, offset) and are
inserted only if absent; the positions reached are committed in the same DuckDB transaction as the rows; and
every batch starts from the committed positions. A crash anywhere before COMMIT leaves nothing behind, and
the batch is read again. Records at or before their source's T1 are counted and skipped (the bootstrap has
them). The DuckDB file is held only for a batch's transaction, so readers get in between batches.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from logpilot_dagster.extract.parsed import _parse_batch
from logpilot_dagster.ingest.staging import StageLimits
from logpilot_dagster.live.matching import miner_stamp
from logpilot_dagster.live.schema_discovery import RegistryKV
from logpilot_dagster.live.source_formats import LiveSourceFormats
from logpilot_dagster.live.stream import (
    DEFAULT_BATCH_BYTES,
    DEFAULT_BATCH_RECORDS,
    LogStream,
    StreamRange,
    StreamRead,
)
from logpilot_dagster.live.workers import BatchWorkers, Job
from logpilot_dagster.mining import LogMiner
from logpilot_dagster.mining.miner import gc_paused
from logpilot_dagster.mining.template_text import template_regex
from logpilot_dagster.store import purge_guard, tables
from logpilot_dagster.store.layout import HomeLayout
from logpilot_dagster.store.locks import MINER_WAIT_S, Busy, file_lock
from logpilot_dagster.store.purge_guard import PurgedMeanwhile

TEMPLATE_SCHEMA = pa.schema([("template_id", pa.string()), ("source", pa.string()), ("template", pa.string()),
                             ("regex", pa.string()), ("example", pa.string())])
UNMATCHED_SUFFIX = ":0"  # the miner's id for a message like nothing it learned
FLUSH_WAIT_S = 1.0
PURGE_END_WAIT_S = 600.0  # how long a batch that met a purge waits for it to end before it is read again
BUSY_RETRY_S = 5.0  # `run_forever`'s pause after a pass that could not get the warehouse or the miner
# `run_forever` plans its passes from the positions it last committed or read (it alone moves them) and reads
# them from DuckDB again at least this often: an idle pass then costs a look at the stream, not a connection
# (38 ms of CPU each second otherwise).
STATE_REFRESH_S = 30.0


class NoWatermark(RuntimeError):
    """The bootstrap has not written T1 yet: live ingestion would not know what the bootstrap holds."""


@dataclass
class LiveCounts:
    records_read: int = 0
    rows_stored: int = 0
    skipped_before_t1: int = 0
    duplicates_skipped: int = 0
    quarantined: int = 0
    batches: int = 0
    new_templates: int = 0
    labelled_templates: int = 0
    quarantine_by_reason: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def add(self, other: LiveCounts) -> None:
        for name in ("records_read", "rows_stored", "skipped_before_t1", "duplicates_skipped", "quarantined",
                     "batches", "new_templates", "labelled_templates"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.quarantine_by_reason.update(other.quarantine_by_reason)

    @property
    def conserved(self) -> bool:
        """Every record read is stored, skipped as the bootstrap's, a duplicate, or quarantined."""
        return self.records_read == (self.rows_stored + self.skipped_before_t1 + self.duplicates_skipped
                                     + self.quarantined)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["quarantine_by_reason"] = dict(self.quarantine_by_reason)
        data["seconds"] = round(self.seconds, 3)
        data["conserved"] = self.conserved
        return data


# Labels the templates that have no label yet (see `labelling`). The labeller and the indexer may also have a
# `prepare(layout)`, which the engine calls when a pass commits its first new template.
Labeller = Callable[[HomeLayout], object]
# (layout, new template texts by id, their sample lines, every template's (source, example) by id), and
# `before_save=`: a check to run, under the miner lock, before anything is saved (`purge_guard.check`).
OnNewTemplates = Callable[..., object]


class _Miner:
    """The pre-warmed miner, reloaded when another owner saved it; learning and saving under the miner lock.

    Learning that issued no new template id is saved later (`flush`, at the end of a pass): no stored row
    refers to anything only it knows, so losing it to a crash costs nothing but learning it again, and most
    batches teach the miner a few dozen rare lines that join existing templates."""

    def __init__(self, layout: HomeLayout) -> None:
        self.layout = layout
        self.stamp = miner_stamp(layout)
        self.miner = LogMiner.load(layout.miner)
        self.info = self._info()
        self.unsaved = False

    def _info(self, sources: list[str] | None = None) -> dict[str, tuple[str, str, str]]:
        if sources is None:
            return {t.template_id: (t.source, t.template, t.example) for t in self.miner.templates()}
        info = {tid: entry for tid, entry in self.info.items() if entry[0] not in sources}
        for source in sources:
            info.update((t.template_id, (t.source, t.template, t.example)) for t in self.miner.templates(source))
        return info

    def refresh(self) -> None:
        """Another owner saved a newer state: take it (what this one learned and did not save is dropped)."""
        stamp = miner_stamp(self.layout)
        if stamp != self.stamp:
            self.stamp = stamp
            self.miner = LogMiner.load(self.layout.miner)
            self.info = self._info()
            self.unsaved = False

    def learn(self, messages: dict[str, list[str]], check: Callable[[], None] | None = None) -> dict[str, str]:
        """Learn unseen messages; the ids of templates that did not exist before, with their text. Saved
        before returning when there are any (the rows about to be stored refer to them). `check`: called under
        the miner lock first (`purge_guard.check`: messages read before a purge are not learned after it)."""
        with file_lock(self.layout.miner_lock, MINER_WAIT_S, "the miner's state"):
            if check is not None:
                check()
            self.refresh()  # learn on top of the newest saved state, never over it
            before = dict(self.info)
            for source, batch in messages.items():
                self.miner.learn(source, batch)
            self.info = self._info(list(messages))
            new = {tid: self.info[tid][1] for tid in self.info.keys() - before.keys()}
            # A template whose text changed is saved at once too: the batch's rows and `templates` get the
            # new text, and a crash must not take the miner back to the old one.
            changed = any(before[tid][1] != entry[1] for tid, entry in self.info.items() if tid in before)
            self.unsaved = True
            if new or changed:
                self._save()
        return new

    def flush(self) -> None:
        """Save what was learned and not saved yet, unless another owner saved meanwhile (theirs stands) or
        holds the lock now (a bootstrap mining: the save is optional, so it is not waited for)."""
        if not self.unsaved:
            return
        try:
            with file_lock(self.layout.miner_lock, FLUSH_WAIT_S, "the miner's state"):
                if miner_stamp(self.layout) == self.stamp:
                    self._save()
                else:
                    self.refresh()
        except Busy:
            return

    def _save(self) -> None:
        self.miner.save(self.layout.miner)
        self.stamp = miner_stamp(self.layout)
        self.unsaved = False


class LiveEngine:
    """One live writer over one stream. Not thread-safe; hold it in one process (`live_lock` makes sure)."""

    def __init__(self, layout: HomeLayout, stream: LogStream, limits: StageLimits | None = None,
                 batch_records: int = DEFAULT_BATCH_RECORDS, batch_bytes: int = DEFAULT_BATCH_BYTES,
                 labeller: Labeller | None = None, on_new_templates: OnNewTemplates | None = None,
                 indexer: Callable[[HomeLayout], object] | None = None, lock_timeout_s: float = 30.0,
                 log: Callable[[str], None] | None = None, llm_client=None,
                 workers: int | BatchWorkers | None = None) -> None:
        """`llm_client`: asked for the format of an unknown source only when the rules infer none; `workers`:
        processes that decode and match a batch (default: one per core, up to 4), or a pool already started."""
        self.layout, self.stream, self.limits = layout, stream, limits
        self.batch_records, self.batch_bytes = batch_records, batch_bytes
        self.labeller, self.on_new_templates, self.indexer = labeller, on_new_templates, indexer
        self.lock_timeout_s = lock_timeout_s
        self.log = log or (lambda message: print(message, file=sys.stderr))
        self._miner: _Miner | None = None
        self._t1: dict[str, datetime] = {}
        self._positions: dict[str, int] | None = None
        self._stack = ExitStack()
        self.registry_kv = RegistryKV(layout.schema_registry)
        self.source_formats = LiveSourceFormats(layout)
        self.llm_client = llm_client
        self.workers = workers if isinstance(workers, BatchWorkers) else BatchWorkers(layout, workers)
        self._unlabelled: dict[str, str] = {}  # new templates committed in this pass, labelled at its end
        self._unmerged = False  # the last batch committed left its row groups for the next one to merge

    # --- ownership ---------------------------------------------------------------------------------------

    def __enter__(self) -> LiveEngine:
        self._stack.enter_context(file_lock(self.layout.live_lock, self.lock_timeout_s, "the live writer"))
        self._stack.callback(self.workers.close)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    @property
    def miner(self) -> _Miner:
        if self._miner is None:
            self._miner = _Miner(self.layout)
        return self._miner

    def state(self) -> tuple[dict[str, datetime], dict[str, int]]:
        """T1 per source and the committed positions, read under one short connection."""
        if not self.layout.duckdb.exists():
            raise NoWatermark(f"no warehouse at {self.layout.duckdb}: run `logpilot bootstrap` first")
        with tables.connect(self.layout.duckdb, timeout_s=self.lock_timeout_s) as con:
            self._read_state(con)
        return self._t1, dict(self._positions or {})

    def _read_state(self, con) -> None:
        self._t1 = tables.bootstrap_t1(con)
        self._positions = tables.live_positions(con, self.stream.key)
        if not self._t1:
            raise NoWatermark("the bootstrap has not written its watermark (T1) yet: run `logpilot bootstrap`")

    def plan(self, fresh: bool = True) -> StreamRange:
        """The next range. `fresh=False` reuses the state the last write read back in its own connection
        (this writer alone moves the positions), saving a connection per batch."""
        if fresh or self._positions is None:
            self.state()
        t1, positions = self._t1, dict(self._positions or {})
        rng = self.stream.plan(positions, min(t1.values()), self.batch_records, self.batch_bytes)
        for problem in getattr(self.stream, "problems", ()):
            self.log(f"not read: {problem}")
        return rng

    # --- batches -------------------------------------------------------------------------------------------

    def run_range(self, rng: StreamRange) -> tuple[LiveCounts, StreamRead]:
        """Read exactly `rng`, process it and commit rows, quarantine and positions in one transaction."""
        began = time.perf_counter()
        if self._positions is None:
            self.state()
        while True:
            with gc_paused():  # as in `run_once`
                mark = purge_guard.current(self.layout)
                read = self.stream.read(rng)
                try:
                    counts = self._finish(rng, read, self._submit(read), began, purge_mark=mark)
                    break
                except PurgedMeanwhile as purged:  # the same range, once the purge has blanked its copy
                    self.log(str(purged))
            purge_guard.wait_until_done(self.layout, PURGE_END_WAIT_S)
        self.miner.flush()
        self._label_new_templates(counts)
        return counts, read

    def _submit(self, read: StreamRead) -> Job:
        """Hand the records to the workers (decoding and matching) with the saved miner's stamp. A batch the
        workers take does not wait for this process's miner (loading it takes a quarter of a second); a
        batch small enough to be done here is matched with it, refreshed first."""
        if self.workers.pooled(len(read.records)):
            # Should the pool break, the batch is done here with this process's miner.
            return self.workers.submit(read.records, self._t1, self.limits, miner_stamp(self.layout),
                                       lambda: self.miner.miner)
        self.miner.refresh()
        return self.workers.submit(read.records, self._t1, self.limits, self.miner.stamp, lambda: self.miner.miner)

    def _finish(self, rng: StreamRange, read: StreamRead, job: Job, began: float, more_follow: bool = False,
                purge_mark: str | None = None) -> LiveCounts:
        """Learn what came back unmatched, then commit the batch: rows, quarantine and positions at once.
        `more_follow`: the next batch is already read (see `tables.write_live_batch`); `purge_mark`: the
        purge mark read before the batch was (`purge_guard`): `PurgedMeanwhile` if a purge ran since."""

        def check() -> None:
            if purge_mark is not None:
                purge_guard.check(self.layout, purge_mark)

        counts = LiveCounts(records_read=len(read.records), batches=1)
        self.miner.refresh()  # needed below; loaded (the first time) while the workers are still at it
        decoded = job.result()
        if not read.records and read.positions == dict(rng.start):
            counts.seconds = time.perf_counter() - began
            return counts
        counts.skipped_before_t1 = decoded.skipped_before_t1
        rows, new_templates = self._learn_unmatched(decoded.rows, decoded.miner_stamp, check)
        if new_templates:
            self._discover(new_templates, rows, check)  # what it saves holds the batch's messages too
        rows = self.registry_kv.fill(rows)  # the registry first: discovered patterns name the pairs
        batch_templates = self._templates_of(rows)
        with tables.connect(self.layout.duckdb, timeout_s=self.lock_timeout_s) as con:
            written = tables.write_live_batch(con, rows, decoded.quarantined, batch_templates, self.stream.key,
                                              read.positions, more_follow, check=check)
            self._unmerged = more_follow
            self._read_state(con)
        counts.rows_stored, counts.quarantined = written.rows, written.quarantined
        counts.skipped_before_t1 += written.skipped_before_t1
        counts.duplicates_skipped = written.duplicate_rows + written.duplicate_quarantined
        if written.quarantined:
            counts.quarantine_by_reason = decoded.quarantine_by_reason
        counts.new_templates = len(new_templates)
        if new_templates and not self._unlabelled:
            self._prepare_labelling()
        self._unlabelled.update(new_templates)
        if decoded.unknown_headers:
            self._learn_formats(decoded.unknown_headers)
        counts.seconds = time.perf_counter() - began
        return counts

    def run_once(self, stop: threading.Event | None = None, max_batches: int | None = None,
                 fresh: bool = True) -> LiveCounts:
        """Batches from the committed positions until the stream is caught up (or `stop` is set). `fresh=False`:
        from the positions this writer last committed or read (see `plan`), without reading them first.

        Pipelined: while a batch is learned and written, the next range is already read and on the workers.
        It was planned from the positions the batch reached, which are the ones its commit stores, so the
        batches are the same as one at a time; a batch that never commits (a crash, `stop`) is read again."""
        total = LiveCounts()
        began = time.perf_counter()
        rng = self.plan(fresh=fresh)
        ahead: tuple[StreamRange, StreamRead, Job, str] | None = None
        while not rng.empty and not (stop and stop.is_set()) and (max_batches is None or total.batches < max_batches):
            # A batch's objects are freed by reference counting; the cyclic collector would walk the loaded
            # miner again and again for nothing.
            with gc_paused():
                batch_began = time.perf_counter()
                if ahead is None:
                    mark = purge_guard.current(self.layout)
                    read = self.stream.read(rng)
                    job = self._submit(read)
                else:
                    _, read, job, mark = ahead
                    ahead = None
                more = read.records and not read.caught_up and (max_batches is None
                                                                or total.batches + 1 < max_batches)
                if more:
                    following = self.stream.plan(read.positions, min(self._t1.values()), self.batch_records,
                                                 self.batch_bytes)
                    if not following.empty:
                        following_mark = purge_guard.current(self.layout)
                        following_read = self.stream.read(following)
                        ahead = (following, following_read, self._submit(following_read), following_mark)
                try:
                    counts = self._finish(rng, read, job, batch_began, ahead is not None, mark)
                except PurgedMeanwhile as purged:
                    # Nothing of this batch (nor of the next, read before it) is stored: both are read again
                    # from the committed positions once the purge is done, its stream copy blanked.
                    self.log(str(purged))
                    ahead = None
                    purge_guard.wait_until_done(self.layout, PURGE_END_WAIT_S)
                    rng = self.plan(fresh=True)
                    continue
            total.add(counts)
            self.log(f"batch {total.batches}: {counts.records_read:,} records read, {counts.rows_stored:,} stored, "
                     f"{counts.skipped_before_t1:,} at/before T1, {counts.duplicates_skipped:,} duplicates, "
                     f"{counts.quarantined:,} quarantined ({rng.describe()})")
            if ahead is None:
                break
            rng = ahead[0]
        if self._unmerged:  # stopped with the next batch in hand: merge here, not in the next connection
            with tables.connect(self.layout.duckdb, timeout_s=self.lock_timeout_s) as con:
                tables.merge_row_groups(con)
            self._unmerged = False
        if self._miner is not None:
            self.miner.flush()
        self._label_new_templates(total)
        total.seconds = time.perf_counter() - began
        return total

    def run_forever(self, stop: threading.Event, idle_s: float = 1.0) -> LiveCounts:
        """Catch up, then keep up: a pass every `idle_s` when the stream has nothing new. A pass that finds the
        warehouse or the miner held for longer than it waits (a bootstrap load, a tiering move) is tried again
        after `BUSY_RETRY_S`: what it had not committed is read again, so nothing is lost."""
        total = LiveCounts()
        state_read = float("-inf")
        while not stop.is_set():
            fresh = time.monotonic() - state_read >= STATE_REFRESH_S
            if fresh:
                state_read = time.monotonic()
            try:
                counts = self.run_once(stop, fresh=fresh)
            except Busy as busy:
                self.log(f"waiting {BUSY_RETRY_S:g} s: {busy}")
                stop.wait(BUSY_RETRY_S)
                continue
            total.add(counts)
            if counts.records_read == 0:
                stop.wait(idle_s)
        return total

    # --- steps -------------------------------------------------------------------------------------------

    def _learn_unmatched(self, rows: pa.Table, matched_with: int | None = None,
                         check: Callable[[], None] | None = None) -> tuple[pa.Table, dict[str, str]]:
        """Messages like nothing learned are learned here, by this process alone (the miner lock), and matched
        again, so they get templates of their own; the new templates' ids and texts. `matched_with`: the
        stamp of the saved miner the rows were matched with, when known."""
        unmatched = pc.ends_with(rows.column("template_id"), UNMATCHED_SUFFIX)
        if not pc.any(unmatched).as_py():
            return rows, {}
        owner = self.miner
        owner.refresh()
        again = rows.filter(unmatched)
        # A worker's miner may be older than this one: match with the newest first, learn what is still new.
        # Not when this one is exactly the state they were matched with (the same result, a second time).
        if matched_with is None or matched_with != owner.stamp or owner.unsaved:
            again = _parse_batch(again.drop_columns(["template_id", "params", "kv"]), owner.miner)
        still = pc.ends_with(again.column("template_id"), UNMATCHED_SUFFIX)
        new: dict[str, str] = {}
        if pc.any(still).as_py():
            pending: dict[str, list[str]] = {}
            for source, message in zip(again.column("source").filter(still).to_pylist(),
                                       again.column("message").filter(still).to_pylist(), strict=True):
                pending.setdefault(source, []).append(message)
            new = owner.learn(pending, check)
            learned = _parse_batch(again.filter(still).drop_columns(["template_id", "params", "kv"]), owner.miner)
            again = pa.concat_tables([again.filter(pc.invert(still)), learned])
        # Row order does not matter to the insert.
        return pa.concat_tables([rows.filter(pc.invert(unmatched)), again]), new

    def _templates_of(self, rows: pa.Table) -> pa.Table:
        ids = pc.unique(rows.column("template_id")).to_pylist()
        if any(t not in self.miner.info for t in ids):
            self.miner.refresh()  # a worker loaded a state saved since (by a bootstrap's mining step)
        info = self.miner.info
        ids = [t for t in ids if t in info]
        return pa.table({
            "template_id": ids, "source": [info[t][0] for t in ids], "template": [info[t][1] for t in ids],
            "regex": [template_regex(info[t][1]) for t in ids], "example": [info[t][2] for t in ids],
        }, schema=TEMPLATE_SCHEMA)

    def _discover(self, new: dict[str, str], rows: pa.Table, check: Callable[[], None] | None = None) -> None:
        """Schema discovery for the batch's new templates, before its rows are written, so that they already
        get the accepted patterns' pairs. Best effort: a failure leaves the generic pairs."""
        if self.on_new_templates is None:
            return
        is_new = pc.is_in(rows.column("template_id"), value_set=pa.array(list(new), pa.string()))
        examples: dict[str, list[str]] = {}
        picked = rows.filter(is_new).select(["template_id", "message"])
        for template_id, message in zip(picked.column("template_id").to_pylist(),
                                        picked.column("message").to_pylist(), strict=True):
            if len(examples.setdefault(template_id, [])) < 20:
                examples[template_id].append(message)
        try:
            known = {tid: (info[0], info[2]) for tid, info in self.miner.info.items()}
            self.on_new_templates(self.layout, new, examples, known, before_save=check)
        except PurgedMeanwhile:
            raise
        except Exception as exc:  # noqa: BLE001 - discovery is best effort
            self.log(f"schema discovery failed for {len(new)} new templates: {exc}")

    def _learn_formats(self, samples: dict[str, list[str]]) -> None:
        """Sample and infer the formats of unknown sources whose messages carry a header (best effort)."""
        try:
            for found in self.source_formats.observe(samples, self.llm_client):
                state = ("accepted into the registry" if found.accepted else
                         "proposed (`logpilot sources --accept NAME`)" if found.proposed else f"not inferred: {found.reason}")
                self.log(f"live source {found.source!r}: a format {state}")
        except Exception as exc:  # noqa: BLE001 - the rows are stored; the next batch samples again
            self.log(f"inferring the format of unknown live sources failed: {exc}")

    def _prepare_labelling(self) -> None:
        """Let the labeller and the indexer load what they need in the background while the pass goes on."""
        for step in (self.labeller, self.indexer):
            prepare = getattr(step, "prepare", None)
            if prepare is not None:
                prepare(self.layout)

    def _label_new_templates(self, counts: LiveCounts) -> None:
        """Label the pass's new templates through the cache and router, and add them to the vector index: once
        a pass, not once a batch, since each labelling rewrites every template's label and syncs the whole
        index (the first in a process also loads the classifier and chromadb, 1.5 s on a make-run home), and
        a catch-up would pay that for every batch with a new template. Their rows are stored and queryable
        meanwhile. A failure here never undoes a committed batch: unlabelled templates are labelled by the
        next pass that has some."""
        new, self._unlabelled = self._unlabelled, {}
        if not new:
            return
        if self.labeller is not None:
            try:
                self.labeller(self.layout)
                counts.labelled_templates += len(new)
            except Exception as exc:  # noqa: BLE001
                self.log(f"labelling {len(new)} new templates failed (retried with the next new ones): {exc}")
        if self.indexer is not None:
            try:
                self.indexer(self.layout)
            except Exception as exc:  # noqa: BLE001 - the template_vectors asset syncs whatever is missed
                self.log(f"adding {len(new)} new templates to the vector index failed: {exc}")
