"""Search quality: the share of paraphrases whose template is among the k nearest (hit rate at k)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Paraphrase:
    query: str
    source: str
    contains: str  # a piece of the template's text: ids are the miner's and change with the data

    def matches(self, source: str | None, template: str | None) -> bool:
        return source == self.source and self.contains.lower() in (template or "").lower()


@dataclass
class HitRate:
    k: int
    hits: int = 0
    asked: int = 0
    missing: list[str] = field(default_factory=list)  # no such template in this warehouse: not asked
    misses: list[tuple[str, list[str]]] = field(default_factory=list)  # (query, what came back)

    @property
    def rate(self) -> float:
        return self.hits / self.asked if self.asked else 0.0


def read_paraphrases(path: Path) -> list[Paraphrase]:
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    return [Paraphrase(p["query"], p["source"], p["contains"]) for p in data.get("paraphrase", [])]


def hit_rate(index, paraphrases: list[Paraphrase], templates: list[tuple[str, str]], k: int = 5) -> HitRate:
    """`templates`: (source, template) of every template in the warehouse, to tell a miss from an absence."""
    result = HitRate(k)
    for p in paraphrases:
        if not any(p.matches(source, text) for source, text in templates):
            result.missing.append(p.query)
            continue
        result.asked += 1
        hits = index.search(p.query, k=k)
        if any(p.matches(h.source, h.template) for h in hits):
            result.hits += 1
        else:
            result.misses.append((p.query, [f"{h.source}: {h.template}" for h in hits]))
    return result
