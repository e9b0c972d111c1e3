"""Each line's `kv` map from three parsers in order, decided per template and cached:

1. the pattern registry (the template's named-group regex) plus generic `key=value` / `key: value`;
2. the NER model, for templates whose slots the registry leaves unkeyed or whose pair-like text it leaves
   unparsed;
3. the LLM, once per template the first two leave unparsed; its answer becomes a registry pattern.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from logpilot_dagster.extract.llm_kv import LLMKVExtractor
from logpilot_dagster.extract.ner import KVNerModel
from logpilot_dagster.extract.registry import PatternRegistry, leftover_pairs
from logpilot_dagster.mining.template_text import WILDCARD

PARSER_REGISTRY = "registry"
PARSER_NER = "ner"
PARSER_LLM = "llm"
PARSER_NONE = "none"


@dataclass(frozen=True)
class KVLine:
    template_id: str | None
    template: str | None
    message: str


@dataclass
class ExtractorStats:
    lines: int = 0
    templates: int = 0
    templates_by_parser: Counter = field(default_factory=Counter)
    lines_by_parser: Counter = field(default_factory=Counter)
    llm_calls: int = 0


class KVExtractor:
    def __init__(self, registry: PatternRegistry, ner: KVNerModel | None = None, llm: LLMKVExtractor | None = None):
        self.registry = registry
        self.ner = ner
        self.llm = llm if llm is not None and llm.disabled_reason is None else None
        self.stats = ExtractorStats()
        self._parser: dict[str, str] = {}

    def extract(self, lines: Sequence[KVLine]) -> list[dict[str, str]]:
        results = [self.registry.extract(line.template_id, line.message) for line in lines]
        for i, line in enumerate(lines):
            key = line.template_id or line.message
            if key not in self._parser:
                self._parser[key] = self._decide(line, results[i])
                self.stats.templates += 1
                self.stats.templates_by_parser[self._parser[key]] += 1
        ner_rows = [i for i, line in enumerate(lines) if self._parser[line.template_id or line.message] == PARSER_NER]
        if ner_rows and self.ner is not None:
            for i, pairs in zip(ner_rows, self.ner.extract([lines[i].message for i in ner_rows]), strict=True):
                results[i] = {**pairs, **results[i]}
        for line, kv in zip(lines, results, strict=True):
            parser = self._parser[line.template_id or line.message]
            if parser == PARSER_LLM:  # the learned pattern is in the registry now
                kv.update(self.registry.extract(line.template_id, line.message))
            self.stats.lines_by_parser[parser] += 1
        self.stats.lines += len(lines)
        return results

    def _decide(self, line: KVLine, kv: dict[str, str]) -> str:
        if not self._unparsed(line, kv):
            return PARSER_REGISTRY if kv or line.template_id in self.registry.patterns else PARSER_NONE
        if self.ner is not None and self.ner.extract([line.message])[0]:
            return PARSER_NER
        if self.llm is not None and line.template_id and line.template:
            self.stats.llm_calls += 1
            pattern = self.llm.learn(line.template_id, line.template, line.message)
            if pattern is not None:
                self.registry.add(pattern)
                return PARSER_LLM
        return PARSER_REGISTRY if kv else PARSER_NONE

    def _unparsed(self, line: KVLine, kv: dict[str, str]) -> bool:
        """Pair-like text left over, or a template with slots none of which became a value."""
        if leftover_pairs(line.message, kv):
            return True
        if line.template and WILDCARD in line.template and not kv:
            return line.template_id not in self.registry.patterns
        return False
