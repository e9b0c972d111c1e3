"""evaluation_report: how good the classifier in use is, on held-out templates and on golden files."""

import json

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
)

from logpilot_dagster.assets.labels import CLASSIFICATION_GROUP
from logpilot_dagster.assets.models import LogClassifierConfig
from logpilot_dagster.assets.reporting import markdown_table, rounded
from logpilot_dagster.classify.examples import read_labelled_csv
from logpilot_dagster.classify.training_data import read_training_set
from logpilot_dagster.resources.embedder import EmbedderResource
from logpilot_dagster.resources.storage import LogPilotStorage
from logpilot_dagster.store.versions import VersionStore, write_json

MEETS_GOALS = "classifier_meets_accuracy_goals"
ACCURACY_GOAL = 0.99
MACRO_F1_GOAL = 0.97


@asset(
    deps=["log_classifier", "kv_ner_model"],
    group_name=CLASSIFICATION_GROUP,
    kinds={"markdown"},
    check_specs=[AssetCheckSpec(MEETS_GOALS, asset="evaluation_report",
                                description=f"The promoted classifier reaches accuracy >= {ACCURACY_GOAL} and "
                                            f"macro-F1 >= {MACRO_F1_GOAL} on held-out templates (no LLM).")],
)
def evaluation_report(context: AssetExecutionContext, storage: LogPilotStorage,
                      embedder: EmbedderResource) -> MaterializeResult:
    """The promoted classifier (rules + model, no LLM) on the held-out templates of the training set and on
    golden files (labels/golden/*.csv): accuracy, macro-F1, F1 per label, confusion matrix, coverage and
    accuracy per tier; plus the promoted KV model's F1. Written to models/evaluation_report.json too."""
    from logpilot_dagster.classify.model import ModelStore
    from logpilot_dagster.classify.rules import RuleSet
    from logpilot_dagster.classify.training import evaluate_model, held_out_split

    layout = storage.layout()
    store = ModelStore(layout.classifier_store)
    in_use = store.promoted_dir()
    model = store.promoted()
    decision = store.decision(in_use) if in_use else {}
    split = LogClassifierConfig()
    vectors = embedder.for_store(layout.classifier_store) if model else None
    rules = RuleSet.default()
    reports: dict[str, dict] = {}
    frame = read_training_set(layout.training_set) if layout.training_set.is_file() else pd.DataFrame()
    if len(frame) >= 2:
        _, test = held_out_split(frame, test_size=split.test_size, seed=split.seed, by=split.split_by)
        reports["held_out"] = evaluate_model(model, vectors, test, rules)
    golden = sorted(layout.golden.glob("*.csv"))
    if golden:
        reports["golden"] = evaluate_model(model, vectors,
                                           pd.concat([read_labelled_csv(p) for p in golden], ignore_index=True),
                                           rules)
    kv_store = VersionStore(layout.kv_ner_store)
    kv_dir = kv_store.promoted_dir()
    kv = kv_store.metadata(kv_dir).get("metrics", {}) if kv_dir else {}
    write_json(layout.evaluation_report, {"model_version": in_use.name if in_use else None,
                                          "reports": reports, "kv": kv}, default=str)
    metadata: dict = {
        # The same version and decision log_classifier recorded when it promoted this model.
        "model_version": in_use.name if in_use else "none",
        "promoted_because": decision.get("reason", "no model promoted yet" if in_use is None else ""),
        "kv_model_version": kv_dir.name if kv_dir else "none",
        "kv_f1": rounded(kv.get("f1", 0.0)),
    }
    for name, r in reports.items():
        metadata[f"{name}/accuracy"] = rounded(r["accuracy"])
        metadata[f"{name}/macro_f1"] = rounded(r["macro_f1"])
        metadata[f"{name}/lines"] = r["lines"]
        metadata[f"{name}/llm_calls"] = r["llm_calls"]
        metadata[f"{name}/f1_per_label"] = MetadataValue.md(markdown_table(
            ["label", "precision", "recall", "f1", "support"],
            [(k, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}", v["support"])
             for k, v in r["per_label"].items()]))
        metadata[f"{name}/confusion_matrix"] = MetadataValue.md(_confusion_table(r["confusion"]))
        metadata[f"{name}/tiers"] = MetadataValue.md(markdown_table(
            ["tier", "coverage", "accuracy"],
            [(t, f"{c:.2%}", f"{r['accuracy_per_tier'].get(t, 0.0):.4f}")
             for t, c in r["coverage_per_tier"].items()]))
    held = reports.get("held_out", {})
    passed = held.get("accuracy", 0.0) >= ACCURACY_GOAL and held.get("macro_f1", 0.0) >= MACRO_F1_GOAL
    context.log.info(f"evaluation of {metadata['model_version']}: "
                     f"{json.dumps({k: round(v['accuracy'], 4) for k, v in reports.items()})}")
    return MaterializeResult(metadata=metadata, check_results=[AssetCheckResult(
        check_name=MEETS_GOALS, passed=passed, severity=AssetCheckSeverity.WARN,
        metadata={"accuracy": rounded(held.get("accuracy", 0.0)), "macro_f1": rounded(held.get("macro_f1", 0.0))})])


def _confusion_table(confusion: dict) -> str:
    columns = confusion["labels"]
    rows = [(truth, *row) for truth, row in zip(columns, confusion["matrix"], strict=False)]
    return markdown_table(["truth \\ predicted", *columns], rows)
