"""What a live worker does with its share of a batch: decode the records, mask, match their templates.

A matcher holds its own copy of the miner, read-only, and takes a newer one the writer saved at most every
`RELOAD_AFTER` records (each task carries the miner file's stamp). What it returns is a pure function of the
records, T1, the staging limits, the sources registry and that miner state, so which worker took which chunk
changes nothing. Learning stays with the writer: rows matched to "nothing learned yet" come back as such
and the writer learns them and matches them again, under the miner lock.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from logpilot_dagster.extract.parsed import PARSED_SCHEMA, _parse_batch
from logpilot_dagster.ingest.staging import StageLimits
from logpilot_dagster.live.records import decode
from logpilot_dagster.live.source_formats import LiveSourceFormats
from logpilot_dagster.live.stream import StreamRecord
from logpilot_dagster.mining import LogMiner
from logpilot_dagster.mining.miner import gc_paused
from logpilot_dagster.store.layout import HomeLayout

# A worker reloads the miner after the writer saved a newer one only this many records after its last load:
# a load drops every matching cache (about half a second of matching to warm them again). Until then, lines
# of templates learned since come back unmatched, and the writer matches them with its current miner.
RELOAD_AFTER = 200_000
# The miner's matching caches grow with every distinct shape it sees (up to 50k per source); a long-running
# matcher drops them after this many records, so its memory stays flat however long the backlog is.
FORGET_CACHES_EVERY = 200_000


def miner_stamp(layout: HomeLayout) -> int | None:
    """The saved miner's version (the modification time of its folder), None before the first save."""
    try:
        return layout.miner.stat().st_mtime_ns
    except FileNotFoundError:
        return None


@dataclass
class Chunk:
    """What decoding and matching made of some records."""

    rows: pa.Table  # parsed rows (`PARSED_SCHEMA`)
    quarantined: pa.Table
    skipped_before_t1: int = 0
    quarantine_by_reason: Counter = field(default_factory=Counter)
    unknown_headers: dict[str, list[str]] = field(default_factory=dict)
    # The stamp of the saved miner every row was matched with; None when unknown (a miner passed in, or
    # chunks matched with different ones). Matching again with that same state would change nothing.
    miner_stamp: int | None = None


class Matcher:
    """A process's read-only miner, reloaded when the saved state changed."""

    def __init__(self, layout: HomeLayout) -> None:
        self.layout = layout
        self.formats = LiveSourceFormats(layout)
        self.stamp: int | None = -1
        self.miner: LogMiner | None = None
        self.matched = 0  # records matched since the caches were last dropped
        self.since_load = 0

    def load(self) -> None:
        """Load the saved miner now (a worker does it while it waits for its first chunk)."""
        stamp = miner_stamp(self.layout)
        self.miner, self.stamp, self.matched, self.since_load = LogMiner.load(self.layout.miner), stamp, 0, 0

    def current(self, stamp: int | None) -> LogMiner:
        if self.miner is None or (stamp != self.stamp and self.since_load >= RELOAD_AFTER):
            self.load()
        return self.miner

    def process(self, records: list[StreamRecord], t1: dict[str, datetime], limits: StageLimits | None,
                stamp: int | None, miner: LogMiner | None = None) -> Chunk:
        """`miner`: the writer's own (its caches are bounded where they are built), for work done in its
        process; otherwise this matcher's copy."""
        with gc_paused():  # without it, collections took 17 % of a worker's time
            return self._process(records, t1, limits, stamp, miner)

    def _process(self, records: list[StreamRecord], t1: dict[str, datetime], limits: StageLimits | None,
                 stamp: int | None, miner: LogMiner | None) -> Chunk:
        self.formats.refresh()
        decoded = decode(records, t1, limits, self.formats)
        used = None
        if miner is None:
            miner, used = self.current(stamp), self.stamp
            self.matched += len(records)
            self.since_load += len(records)
            if self.matched >= FORGET_CACHES_EVERY:
                miner.forget_derived()
                self.matched = 0
        staged = decoded.staged()
        rows = _parse_batch(staged, miner) if staged.num_rows else PARSED_SCHEMA.empty_table()
        return Chunk(rows, decoded.quarantined(), decoded.skipped_before_t1, decoded.quarantine_by_reason,
                     decoded.unknown_headers, used)


def merge(chunks: list[Chunk]) -> Chunk:
    stamps = {c.miner_stamp for c in chunks}
    out = Chunk(pa.concat_tables([c.rows for c in chunks]), pa.concat_tables([c.quarantined for c in chunks]),
                miner_stamp=stamps.pop() if len(stamps) == 1 else None)
    for chunk in chunks:
        out.skipped_before_t1 += chunk.skipped_before_t1
        out.quarantine_by_reason.update(chunk.quarantine_by_reason)
        for source, lines in chunk.unknown_headers.items():
            out.unknown_headers.setdefault(source, []).extend(lines)
    return out
