"""evaluation_report: how good the classifier in use is, on held-out templates and on golden files."""

import json
from pathlib import Path

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
from logpilot_dagster.assets.models import KV_NER_STORE, LogClassifierConfig, shared_embedder
from logpilot_dagster.assets.reporting import markdown_table
from logpilot_dagster.classify.classifier import default_model_store
from logpilot_dagster.classify.examples import read_labelled_csv
from logpilot_dagster.classify.training_data import GOLDEN_DIR, TRAINING_SET_FILE, read_training_set
from logpilot_dagster.resources.storage import LogPilotStorage

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
def evaluation_report(context: AssetExecutionContext, storage: LogPilotStorage) -> MaterializeResult:
    """The promoted classifier (rules + model, no LLM) on the held-out templates of the training set and on
    golden files (labels/golden/*.csv): accuracy, macro-F1, F1 per label, confusion matrix, coverage and
    accuracy per tier; plus the promoted KV model's F1. Written to models/evaluation_report.json too."""
    from logpilot_dagster.classify.model import ModelStore
    from logpilot_dagster.classify.rules import RuleSet
    from logpilot_dagster.classify.training import evaluate_model, held_out_split

    layout = storage.layout()
    model = ModelStore(default_model_store(layout)).promoted()
    split = LogClassifierConfig()
    embedder = shared_embedder(split.embedding_model, default_model_store(layout)) if model else None
    rules = RuleSet.default()
    reports: dict[str, dict] = {}
    frame = read_training_set(layout.labels / TRAINING_SET_FILE)
    if len(frame) >= 2:
        _, test = held_out_split(frame, test_size=split.test_size, seed=split.seed, by=split.split_by)
        reports["held_out"] = evaluate_model(model, embedder, test, rules)
    golden = sorted((layout.labels / GOLDEN_DIR).glob("*.csv"))
    if golden:
        reports["golden"] = evaluate_model(model, embedder,
                                           pd.concat([read_labelled_csv(p) for p in golden], ignore_index=True),
                                           rules)
    kv = _kv_metrics(layout.models / KV_NER_STORE)
    report_path = layout.models / "evaluation_report.json"
    report_path.write_text(json.dumps({"reports": reports, "kv": kv}, indent=2, default=str), encoding="utf-8")
    metadata: dict = {"model_in_use": model.created_at if model else "none", "kv_f1": kv.get("f1", 0.0),
                      "report_path": str(report_path)}
    for name, r in reports.items():
        metadata[f"{name}/accuracy"] = r["accuracy"]
        metadata[f"{name}/macro_f1"] = r["macro_f1"]
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
    context.log.info(f"evaluation: {json.dumps({k: round(v['accuracy'], 4) for k, v in reports.items()})}")
    return MaterializeResult(metadata=metadata, check_results=[AssetCheckResult(
        check_name=MEETS_GOALS, passed=passed, severity=AssetCheckSeverity.WARN,
        metadata={"accuracy": held.get("accuracy", 0.0), "macro_f1": held.get("macro_f1", 0.0)})])


def _confusion_table(confusion: dict) -> str:
    columns = confusion["labels"]
    rows = [(truth, *row) for truth, row in zip(columns, confusion["matrix"], strict=False)]
    return markdown_table(["truth \\ predicted", *columns], rows)


def _kv_metrics(store: Path) -> dict:
    pointer = store / "PROMOTED"
    if not pointer.is_file():
        return {}
    meta = store / pointer.read_text(encoding="utf-8").strip() / "metadata.json"
    return json.loads(meta.read_text(encoding="utf-8")).get("metrics", {}) if meta.is_file() else {}
