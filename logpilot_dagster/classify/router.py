"""Rules → model → LLM, decided once per template and cached, so known templates cost a dictionary lookup.

A template is the miner's template id when the caller has one, otherwise the line's template key (the
message with numbers, ids and timestamps masked). Each new template is decided from its first line seen.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from logpilot_dagster.classify.embedder import Embedder
from logpilot_dagster.classify.keys import template_key
from logpilot_dagster.classify.labels import (
    DEFAULT_LLM_SOURCES,
    TIER_HUMAN,
    TIER_LLM,
    TIER_MODEL,
    TIER_NONE,
    TIER_RULE,
    UNCLASSIFIED,
)
from logpilot_dagster.classify.llm import LLMUnavailable
from logpilot_dagster.classify.llm_labeller import LLMLabeller
from logpilot_dagster.classify.model import LogClassifier
from logpilot_dagster.classify.rules import RuleSet


@dataclass(frozen=True)
class Decision:
    label: str
    confidence: float
    tier: str
    reason: str = ""


# Called with (source, message, reply) for each LLM answer, so it can be kept as a marked training example.
LLMAnswerSink = Callable[[str, str, Decision], None]


@dataclass
class RouterStats:
    lines: int = 0
    templates: int = 0  # distinct templates decided (cache misses)
    by_tier: Counter = field(default_factory=Counter)  # lines per deciding tier
    model_keys_embedded: int = 0
    llm_requests: int = 0


class Router:
    def __init__(
        self,
        rules: RuleSet,
        model: LogClassifier | None,
        embedder: Embedder | None,
        llm: LLMLabeller | None,
        threshold: float | None = None,
        llm_sources: Iterable[str] = DEFAULT_LLM_SOURCES,
        on_llm_answer: LLMAnswerSink | None = None,
    ):
        if model is not None and embedder is None:
            raise ValueError("a model needs the embedder it was trained with")
        self.rules = rules
        self.model = model
        self.embedder = embedder
        self.llm = llm
        self.threshold = threshold if threshold is not None else (model.threshold if model else 1.0)
        self.llm_sources = frozenset(s.casefold() for s in llm_sources)
        self.on_llm_answer = on_llm_answer
        self.stats = RouterStats()
        self._cache: dict[tuple[str, str], Decision] = {}

    def pin(self, source: str, template: str, label: str) -> None:
        """A human's label for a template; it wins over every tier."""
        self._cache[(source, template)] = Decision(label, 1.0, TIER_HUMAN, "human correction")

    def decide(self, items: Sequence[tuple[str, str]], templates: Sequence[str] | None = None) -> list[Decision]:
        """One decision per (source, message); `templates` (e.g. miner template ids) replaces the template key."""
        if templates is None:
            templates = [template_key(message) for _, message in items]
        cache_keys = [(source, template) for (source, _), template in zip(items, templates, strict=True)]
        first_lines: dict[tuple[str, str], tuple[str, str]] = {}
        for cache_key, item in zip(cache_keys, items, strict=True):
            if cache_key not in self._cache and cache_key not in first_lines:
                first_lines[cache_key] = item
        if first_lines:
            self._decide_new(first_lines)
        cache = self._cache
        decisions = [cache[k] for k in cache_keys]
        self.stats.lines += len(decisions)
        self.stats.by_tier.update(d.tier for d in decisions)
        return decisions

    def _decide_new(self, first_lines: dict[tuple[str, str], tuple[str, str]]) -> None:
        self.stats.templates += len(first_lines)
        for_model: list[tuple[str, str]] = []
        for_llm: dict[tuple[str, str], str] = {}
        for cache_key, (source, message) in first_lines.items():
            rule = self.rules.first_match(source, message)
            if rule is not None:
                self._cache[cache_key] = Decision(rule.label, 1.0, TIER_RULE, f"rule {rule.name}")
            elif source.casefold() in self.llm_sources or self.model is None:
                reason = "source routed to the LLM" if self.model else "no model"
                for_llm[cache_key] = reason
            else:
                for_model.append(cache_key)
        if for_model:
            self.stats.model_keys_embedded += len(for_model)
            guesses = self.model.predict([first_lines[k][1] for k in for_model], self.embedder)
            for cache_key, (label, probability) in zip(for_model, guesses, strict=True):
                if probability >= self.threshold:
                    self._cache[cache_key] = Decision(label, probability, TIER_MODEL)
                else:
                    for_llm[cache_key] = f"model unsure: {label!r} at {probability:.2f} < {self.threshold:.2f}"
        for cache_key, why_llm in for_llm.items():
            self._cache[cache_key] = self._ask_llm(*first_lines[cache_key], why_llm)

    def _ask_llm(self, source: str, message: str, why_llm: str) -> Decision:
        if self.llm is None:
            return Decision(UNCLASSIFIED, 0.0, TIER_NONE, f"{why_llm}; LLM tier disabled: no endpoint configured")
        requests_before = self.llm.client.calls
        try:
            reply = self.llm.label(source, message)
        except LLMUnavailable as err:
            return Decision(UNCLASSIFIED, 0.0, TIER_NONE, f"{why_llm}; {err}")
        finally:
            self.stats.llm_requests += self.llm.client.calls - requests_before
        decision = Decision(reply.label, reply.confidence, TIER_LLM, reply.reason)
        if self.on_llm_answer:
            self.on_llm_answer(source, message, decision)
        return decision
