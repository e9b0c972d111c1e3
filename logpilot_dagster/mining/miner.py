"""`LogMiner`: LogPilot's template miner, one Drain3 miner per source behind one facade.

The assets, the parser and the benchmarks all mine through this class, so the accuracy the Loghub
harness measures is the accuracy the platform ships.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from logpilot_dagster.mining.config import MinerConfig
from logpilot_dagster.mining.persistence import read_state, write_state
from logpilot_dagster.mining.source_miner import SourceMiner


@dataclass(frozen=True, slots=True)
class LineMatch:
    """One message's event: `template_id` is `"<source>:<n>"`, `template` the message's own text with
    `<*>` for each variable, `params` the variable values in order."""

    template_id: str
    template: str
    params: list[str]


@dataclass(frozen=True, slots=True)
class TemplateInfo:
    template_id: str
    source: str
    template: str
    count: int
    example: str


class LogMiner:
    """Mines templates per source. Not thread-safe: one process owns a miner's state at a time."""

    def __init__(self, config: MinerConfig | None = None) -> None:
        self.config = config or MinerConfig()
        self._sources: dict[str, SourceMiner] = {}

    def _source(self, source: str) -> SourceMiner:
        miner = self._sources.get(source)
        if miner is None:
            miner = self._sources[source] = SourceMiner(self.config)
        return miner

    def learn(self, source: str, messages: Sequence[str]) -> None:
        """Teach the miner a batch of `source`'s messages. Can be called many times, batch by batch."""
        if messages:
            self._source(source).learn(messages)

    def match(self, source: str, messages: Sequence[str]) -> list[LineMatch]:
        """The event of each message, in order. Never None: see `SourceMiner.match` for unseen messages."""
        if not messages:
            return []
        prefix = f"{source}:"
        return [LineMatch(prefix + str(group_id), template, params)
                for group_id, template, params in self._source(source).match(messages)]

    def mine(self, source: str, messages: Sequence[str]) -> list[LineMatch]:
        """Learn the batch, then match it: every line gets the template the whole batch supports."""
        self.learn(source, messages)
        return self.match(source, messages)

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
        write_state(Path(folder), self.config, {name: miner.state() for name, miner in self._sources.items()})

    @classmethod
    def load(cls, folder: Path) -> LogMiner:
        saved = read_state(Path(folder))
        if saved is None:
            return cls()
        config, states = saved
        miner = cls(config)
        for name, state in states.items():
            miner._sources[name] = SourceMiner(config, state)
        return miner
