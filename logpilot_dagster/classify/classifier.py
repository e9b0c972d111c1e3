"""The classification facade: configuration in, a ready router out; what the CLI, the API and assets use.

    from logpilot_dagster.classify import classify
    classify([("billing", "User User42 logged in."), ("nginx", "GET /x HTTP/1.1 500")])

Without a trained model the rules decide what they can and the rest goes to the LLM, or stays
`unclassified` with the reason when no endpoint is configured. Nothing here fails for a missing tier.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from logpilot_dagster.classify.embedder import CachedEmbedder, store_embedder
from logpilot_dagster.classify.examples import LLMAnswerLog
from logpilot_dagster.classify.labels import DEFAULT_LABELS, DEFAULT_LLM_SOURCES
from logpilot_dagster.classify.llm_labeller import LabelledExample, LLMLabeller
from logpilot_dagster.classify.model import LogClassifier, ModelError, resolve_model_dir
from logpilot_dagster.classify.router import Classification, Router
from logpilot_dagster.classify.rules import RuleSet
from logpilot_dagster.llm.client import LLMClient, LLMConfig
from logpilot_dagster.store.layout import HomeLayout
from logpilot_dagster.store.versions import PROMOTED_FILE


def default_model_store(layout: HomeLayout | None = None) -> Path:
    return (layout or HomeLayout.from_env()).classifier_store


@dataclass(frozen=True)
class ClassifierConfig:
    """Everything that shapes a classification run; every field has a working default."""

    model_dir: str | None = None  # a model folder or a store; None: the home's promoted model, if any
    use_model: bool = True  # False: rules and LLM only
    rules_file: str | None = None  # None: the packaged default_rules.toml
    use_rules: bool = True
    labels: tuple[str, ...] = tuple(DEFAULT_LABELS)  # used when there is no model (a model has its own)
    threshold: float | None = None  # None: the model's own threshold
    embedding_model: str | None = None  # a sentence-transformers folder; None: the packaged all-MiniLM-L6-v2
    llm: LLMConfig = field(default_factory=LLMConfig)
    llm_sources: frozenset[str] = DEFAULT_LLM_SOURCES
    llm_answers_csv: str | None = None  # where LLM answers are kept as examples; None: not kept
    require_model: bool = False  # True: a missing model is an error instead of a rules(+LLM)-only run

    @classmethod
    def from_env(cls, **overrides) -> ClassifierConfig:
        """Defaults plus the LLM endpoint from the environment (see `llm.client`)."""
        overrides.setdefault("llm", LLMConfig.from_env())
        return cls(**overrides)


def load_rules(config: ClassifierConfig) -> RuleSet:
    if not config.use_rules:
        return RuleSet()
    return RuleSet.load(config.rules_file) if config.rules_file else RuleSet.default()


def load_model(config: ClassifierConfig) -> LogClassifier | None:
    if not config.use_model:
        return None
    if config.model_dir:
        return LogClassifier.load(resolve_model_dir(config.model_dir))
    try:
        return LogClassifier.load(resolve_model_dir(default_model_store()))
    except ModelError:
        if config.require_model:
            raise
        return None


def serving_store(config: ClassifierConfig) -> Path | None:
    """The model store the model comes from (its vector cache and exported graph serve it too); None for a
    bare version folder."""
    store = Path(config.model_dir) if config.model_dir else default_model_store()
    return store if (store / PROMOTED_FILE).is_file() else None


class HybridClassifier:
    """Rules → model → LLM with a per-template cache. One instance holds one run's cache and LLM budget."""

    def __init__(self, config: ClassifierConfig | None = None, model: LogClassifier | None = None,
                 embedder=None, llm_client: LLMClient | None = None,
                 examples: Sequence[LabelledExample] = ()):
        self.config = config or ClassifierConfig.from_env()
        self.model = model if model is not None else load_model(self.config)
        self.embedder = None
        if self.model is not None:
            self.embedder = embedder or store_embedder(serving_store(self.config), self.config.embedding_model)
        labels = self.model.labels if self.model is not None else self.config.labels
        client = llm_client or LLMClient(self.config.llm)
        self.llm_client = client
        llm = LLMLabeller(client, labels, examples) if client.disabled_reason is None else None
        self.llm_disabled_reason = client.disabled_reason
        sink = LLMAnswerLog(self.config.llm_answers_csv) if self.config.llm_answers_csv else None
        self.router = Router(rules=load_rules(self.config), model=self.model, embedder=self.embedder, llm=llm,
                             threshold=self.config.threshold, llm_sources=self.config.llm_sources,
                             labels=labels, on_llm_answer=sink)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.router.labels

    def save_embeddings(self) -> None:
        """Keep the vectors embedded in this run in the model store, for the next process."""
        if isinstance(self.embedder, CachedEmbedder):
            self.embedder.save()

    def classify(self, items: Sequence[tuple[str, str]], templates: Sequence[str] | None = None
                 ) -> list[Classification]:
        return self.router.decide(items, templates)

    def tiers(self) -> dict:
        """Which tiers are active and why not, for /health and asset metadata."""
        return {
            "rules": {"enabled": len(self.router.rules) > 0, "rules": len(self.router.rules),
                      "origin": self.router.rules.origin, "skipped_outside_label_set": self.router.dropped_rule_names},
            "model": {"enabled": self.model is not None,
                      "created_at": self.model.created_at if self.model else None,
                      "threshold": self.router.threshold if self.model else None},
            "llm": {"enabled": self.llm_disabled_reason is None, "reason": self.llm_disabled_reason,
                    "model": self.config.llm.model if self.llm_disabled_reason is None else None},
            "labels": list(self.labels),
        }


def classify(items: Iterable[tuple[str, str]], config: ClassifierConfig | None = None) -> list[Classification]:
    """Classify (source, message) pairs; each result has target_label, confidence, tier and reason."""
    return HybridClassifier(config).classify(list(items))


def llm_answers_path(layout: HomeLayout | None = None) -> str:
    return str((layout or HomeLayout.from_env()).llm_answers)
