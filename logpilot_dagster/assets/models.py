"""log_classifier (the model tier, versioned, promoted only when not worse) and kv_ner_model (the KV tagger)."""

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
)
from dagster_duckdb import DuckDBResource

from logpilot_dagster.assets.labels import CLASSIFICATION_GROUP
from logpilot_dagster.assets.reporting import markdown_table, rounded
from logpilot_dagster.classify.training_data import read_training_set
from logpilot_dagster.resources.embedder import EmbedderResource
from logpilot_dagster.resources.storage import LogPilotStorage
from logpilot_dagster.store import tables

CANDIDATE_NOT_WORSE = "candidate_not_worse_than_promoted"


class LogClassifierConfig(Config):
    test_size: float = 0.2
    seed: int = 0
    split_by: str = "line"  # held-out lines (stable hash): the promoted model has seen nearly every template;
    # "template" holds whole templates out, to score generalisation (the model then lacks those templates)
    threshold: float | None = None  # None: calibrated on a validation split, stored with the model
    max_keys_per_label: int | None = None  # None: every template key; a small value trains a deliberately weaker candidate (tests use it)


@asset(
    deps=["training_set"],
    group_name=CLASSIFICATION_GROUP,
    kinds={"scikitlearn"},
    check_specs=[AssetCheckSpec(CANDIDATE_NOT_WORSE, asset="log_classifier", blocking=True,
                                description="The new candidate scores at least as well as the promoted model on "
                                            "the same held-out lines; otherwise it is not promoted and "
                                            "nothing downstream runs with it.")],
)
def log_classifier(context: AssetExecutionContext, config: LogClassifierConfig, storage: LogPilotStorage,
                   embedder: EmbedderResource) -> MaterializeResult:
    """A new classifier version under models/classifier (embeddings + LogisticRegression), scored with the
    rules on held-out templates against the promoted version; promoted only if at least as good."""
    from logpilot_dagster.classify.rules import RuleSet
    from logpilot_dagster.classify.training import train_and_register

    layout = storage.layout()
    frame = read_training_set(layout.training_set)
    store = layout.classifier_store
    outcome = train_and_register(frame, store, embedder.for_store(store), rules=RuleSet.default(),
                                 test_size=config.test_size, seed=config.seed, split_by=config.split_by,
                                 threshold=config.threshold,
                                 train_options={"max_keys_per_label": config.max_keys_per_label})
    m, inc = outcome.metrics, outcome.incumbent_metrics or {}
    context.log.info(f"candidate {outcome.version_dir.name}: {'promoted' if outcome.promoted else 'refused'} "
                     f"({outcome.reason})")
    return MaterializeResult(
        metadata={
            "candidate": outcome.version_dir.name,
            "promoted": outcome.promoted,
            "model_version": outcome.in_use.name if outcome.in_use else "none",  # the promoted one, in use
            "decision": outcome.reason,
            "accuracy": rounded(m.get("accuracy", 0.0)), "macro_f1": rounded(m.get("macro_f1", 0.0)),
            "incumbent_accuracy": rounded(inc.get("accuracy", 0.0)),
            "incumbent_macro_f1": rounded(inc.get("macro_f1", 0.0)),
            "held_out_lines": m.get("split", {}).get("test_lines", 0),
            "coverage_per_tier": MetadataValue.json(m.get("coverage_per_tier", {})),
            "accuracy_per_tier": MetadataValue.json(m.get("accuracy_per_tier", {})),
            "f1_per_label": MetadataValue.md(markdown_table(
                ["label", "f1", "support"],
                [(k, f"{v['f1']:.3f}", v["support"]) for k, v in m.get("per_label", {}).items()])),
        },
        check_results=[AssetCheckResult(
            check_name=CANDIDATE_NOT_WORSE, passed=outcome.promoted,
            metadata={"decision": outcome.reason, "candidate": outcome.version_dir.name,
                      "in_use": outcome.in_use.name if outcome.in_use else ""})],
    )


class KvNerConfig(Config):
    iterations: int = 10
    max_templates: int = 400


@asset(deps=["templates"], group_name=CLASSIFICATION_GROUP, pool="duckdb", kinds={"spacy"})
def kv_ner_model(context: AssetExecutionContext, config: KvNerConfig, storage: LogPilotStorage,
                 duckdb: DuckDBResource) -> MaterializeResult:
    """The spaCy KV tagger (EVENT/KEY/VALUE) trained from the mined templates, versioned under models/kv_ner;
    KV F1 measured on templates held out of training."""
    from logpilot_dagster.extract.ner_training import train_kv_ner

    layout = storage.layout()
    with duckdb.get_connection() as con:
        templates = tables.template_texts_by_count(con)
    outcome = train_kv_ner(templates, layout.kv_ner_store, iterations=config.iterations,
                           max_templates=config.max_templates)
    context.log.info(f"KV NER {outcome.version_dir.name}: F1 {outcome.metrics.get('f1', 0.0):.3f}")
    return MaterializeResult(metadata={
        "version": outcome.version_dir.name, "path": str(outcome.version_dir),
        "templates_train": outcome.templates_train, "templates_test": outcome.templates_test,
        "kv_f1": rounded(outcome.metrics.get("f1", 0.0)),
        "kv_precision": rounded(outcome.metrics.get("precision", 0.0)),
        "kv_recall": rounded(outcome.metrics.get("recall", 0.0)),
    })
