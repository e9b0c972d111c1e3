"""Rules → model → LLM, decided once per template and cached, so known templates cost a dictionary lookup.

A template is the miner's template id when the caller has one, otherwise the line's template key (the
message with numbers, ids and timestamps masked); the cache key is (source, template). Each new template is
decided from its first line seen. The LLM is asked at most once per template that rules and model could not
settle, so the number of LLM calls is bounded by the number of such templates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field

from logpilot_dagster.classify.embedder import Embedder
from logpilot_dagster.classify.keys import template_key
from logpilot_dagster.classify.labels import (
    DEFAULT_LABELS,
    DEFAULT_LLM_SOURCES,
    TIER_HUMAN,
    TIER_LLM,
    TIER_MODEL,
    TIER_RULES,
    TIER_UNCLASSIFIED,
    UNCLASSIFIED,
)
from logpilot_dagster.classify.llm_labeller import LLMLabeller
from logpilot_dagster.classify.model import LogClassifier
from logpilot_dagster.classify.rules import Rule, RuleSet
from logpilot_dagster.llm.client import LLMUnavailable


@dataclass(frozen=True)
class Classification:
    """One line's (or template's) label, how sure, which tier decided it and why."""

    target_label: str
    confidence: float
    tier: str
    reason: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


# Called with (source, message, decision) for each LLM answer, so it can be kept as a marked training example.
LLMAnswerSink = Callable[[str, str, Classification], None]


@dataclass
class RouterStats:
    lines: int = 0
    templates: int = 0  # distinct templates decided (cache misses)
    by_tier: Counter = field(default_factory=Counter)  # lines per deciding tier
    templates_by_tier: Counter = field(default_factory=Counter)
    model_keys_embedded: int = 0  # templates sent to the model
    llm_calls: int = 0  # templates sent to the LLM (at most one per unsettled template)
    llm_requests: int = 0  # HTTP requests, retries included

    def as_dict(self) -> dict:
        return {"lines": self.lines, "templates": self.templates, "lines_by_tier": dict(self.by_tier),
                "templates_by_tier": dict(self.templates_by_tier), "model_keys_embedded": self.model_keys_embedded,
                "llm_calls": self.llm_calls, "llm_requests": self.llm_requests}


class Router:
    """Decides labels per template through the tiers; one instance is one run's cache and LLM budget."""

    def __init__(
        self,
        rules: RuleSet | None = None,
        model: LogClassifier | None = None,
        embedder: Embedder | None = None,
        llm: LLMLabeller | None = None,
        threshold: float | None = None,
        llm_sources: Iterable[str] = DEFAULT_LLM_SOURCES,
        labels: Sequence[str] | None = None,
        on_llm_answer: LLMAnswerSink | None = None,
    ):
        if model is not None and embedder is None:
            raise ValueError("a model needs the embedder it was trained with")
        self.labels = tuple(model.labels if model is not None else (labels or DEFAULT_LABELS))
        # Rules whose label the model does not know would put labels into the output nobody trained for.
        self.rules, self.dropped_rules = (rules or RuleSet()).restricted_to(self.labels)
        self.model = model
        self.embedder = embedder
        self.llm = llm
        self.threshold = threshold if threshold is not None else (model.threshold if model else 1.0)
        self.llm_sources = frozenset(s.casefold() for s in llm_sources)
        self.on_llm_answer = on_llm_answer
        self.stats = RouterStats()
        self._cache: dict[tuple[str, str], Classification] = {}

    @property
    def dropped_rule_names(self) -> list[str]:
        return [rule.name for rule in self.dropped_rules]

    def pin(self, source: str, template: str, label: str) -> None:
        """A human's label for a template; it wins over every tier."""
        self._cache[(source, template)] = Classification(label, 1.0, TIER_HUMAN, "human correction")

    def decide(self, items: Sequence[tuple[str, str]], templates: Sequence[str] | None = None) -> list[Classification]:
        """One decision per (source, message); `templates` (e.g. miner template ids) replaces the template key."""
        if templates is None:
            templates = [template_key(message) for _, message in items]
        cache_keys = [(source, template) for (source, _), template in zip(items, templates, strict=True)]
        cache = self._cache
        first_lines: dict[tuple[str, str], tuple[str, str]] = {}
        for cache_key, item in zip(cache_keys, items, strict=True):
            if cache_key not in cache and cache_key not in first_lines:
                first_lines[cache_key] = item
        if first_lines:
            self._decide_new(first_lines)
        decisions = [cache[k] for k in cache_keys]
        self.stats.lines += len(decisions)
        self.stats.by_tier.update(d.tier for d in decisions)
        return decisions

    def _decide_new(self, first_lines: dict[tuple[str, str], tuple[str, str]]) -> None:
        self.stats.templates += len(first_lines)
        decided: dict[tuple[str, str], Classification] = {}
        for_model: list[tuple[str, str]] = []
        for_llm: dict[tuple[str, str], str] = {}
        for cache_key, (source, message) in first_lines.items():
            rule = self.rules.first_match(source, message)
            if rule is not None:
                decided[cache_key] = _by_rule(rule)
            elif source.casefold() in self.llm_sources:
                for_llm[cache_key] = f"source {source!r} is routed to the LLM"
            elif self.model is None:
                for_llm[cache_key] = "no rule matched and no model is loaded"
            else:
                for_model.append(cache_key)
        if for_model:
            self.stats.model_keys_embedded += len(for_model)
            guesses = self.model.predict([first_lines[k][1] for k in for_model], self.embedder)
            for cache_key, (label, probability) in zip(for_model, guesses, strict=True):
                if probability >= self.threshold:
                    decided[cache_key] = Classification(label, round(probability, 4), TIER_MODEL,
                                                        f"model p={probability:.2f}")
                else:
                    for_llm[cache_key] = f"model unsure: {label!r} at p={probability:.2f} < {self.threshold:.2f}"
        for cache_key, why_llm in for_llm.items():
            decided[cache_key] = self._ask_llm(*first_lines[cache_key], why_llm)
        self._cache.update(decided)
        self.stats.templates_by_tier.update(d.tier for d in decided.values())

    def _ask_llm(self, source: str, message: str, why_llm: str) -> Classification:
        if self.llm is None:
            return _unsettled(f"{why_llm}; LLM tier disabled: no endpoint configured")
        disabled = self.llm.disabled_reason
        if disabled:
            return _unsettled(f"{why_llm}; {disabled}")
        requests_before = self.llm.client.calls
        self.stats.llm_calls += 1
        try:
            reply = self.llm.label(source, message)
        except LLMUnavailable as err:
            return _unsettled(f"{why_llm}; {err}")
        finally:
            self.stats.llm_requests += self.llm.client.calls - requests_before
        decision = Classification(reply.label, reply.confidence, TIER_LLM, f"llm: {reply.reason}".rstrip(": "))
        if self.on_llm_answer:
            self.on_llm_answer(source, message, decision)
        return decision


def _by_rule(rule: Rule) -> Classification:
    return Classification(rule.label, 1.0, TIER_RULES, f"rule {rule.name}")


def _unsettled(reason: str) -> Classification:
    return Classification(UNCLASSIFIED, 0.0, TIER_UNCLASSIFIED, reason)
