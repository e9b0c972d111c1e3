"""`LogMiner`: LogPilot's template miner, one Drain3 miner per source behind one facade.

The assets, the parser and the benchmarks all mine through this class, so the accuracy the Loghub
harness measures is the accuracy the platform ships.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from logpilot_dagster.mining.config import MinerConfig
from logpilot_dagster.mining.persistence import SourceState, read_state, write_state
from logpilot_dagster.mining.results import LineMatch, TemplateInfo
from logpilot_dagster.mining.source_miner import SourceMiner


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a batch. Matching allocates a result and a params list per
    message, none of them garbage, and without the pause those allocations trigger collections that walk
    every live object again and again (about half of `match`'s time over 200k messages). Any batch loop that
    allocates much and frees it by reference counting gains the same (the live workers' decoding)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class LogMiner:
    """Mines templates per source. Not thread-safe: one process owns a miner's state at a time."""

    def __init__(self, config: MinerConfig | None = None) -> None:
        self.config = config or MinerConfig()
        self._sources: dict[str, SourceMiner] = {}
        # Each source's state as last saved or loaded, until it learns again: serialising Drain3's tree is
        # most of a save, and a live batch usually teaches one or two sources of many.
        self._states: dict[str, SourceState] = {}

    def _source(self, source: str) -> SourceMiner:
        miner = self._sources.get(source)
        if miner is None:
            miner = self._sources[source] = SourceMiner(source, self.config)
        return miner

    def learn(self, source: str, messages: Sequence[str]) -> None:
        """Teach the miner a batch of `source`'s messages. Can be called many times, batch by batch."""
        if messages:
            self._states.pop(source, None)
            with gc_paused():
                self._source(source).learn(messages)

    def match(self, source: str, messages: Sequence[str]) -> list[LineMatch]:
        """The event of each message, in order. Never None: see `SourceMiner.match` for unseen messages."""
        if not messages:
            return []
        with gc_paused():
            return self._source(source).match(messages)

    def mine(self, source: str, messages: Sequence[str]) -> list[LineMatch]:
        """Learn the batch, then match it: every line gets the template the whole batch supports."""
        self.learn(source, messages)
        return self.match(source, messages)

    def forget_derived(self) -> None:
        """Free the caches matching builds (see `SourceMiner.forget_derived`): a long-lived reader calls it
        when it moves on to other sources' lines, so its memory holds one source's caches, not every one's."""
        for miner in self._sources.values():
            miner.forget_derived()

    def sources(self) -> list[str]:
        return sorted(self._sources)

    def templates(self, source: str | None = None) -> list[TemplateInfo]:
        names = [source] if source is not None else self.sources()
        result: list[TemplateInfo] = []
        for name in names:
            miner = self._sources.get(name)
            if miner is None:
                continue
            for group_id, template, count, example in miner.templates():
                result.append(TemplateInfo(f"{name}:{group_id}", name, template, count, example))
        return result

    def save(self, folder: Path) -> None:
        for name, miner in self._sources.items():
            if name not in self._states:
                self._states[name] = miner.state()
        write_state(Path(folder), self.config, {name: self._states[name] for name in self._sources})

    @classmethod
    def load(cls, folder: Path) -> LogMiner:
        saved = read_state(Path(folder))
        if saved is None:
            return cls()
        config, states = saved
        miner = cls(config)
        for name, state in states.items():
            miner._sources[name] = SourceMiner(name, config, state)
        miner._states = dict(states)
        return miner
