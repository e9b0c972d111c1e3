"""Classification accuracy and throughput on the sample generator's data (no LLM tier).

    .venv/bin/python benchmarks/bench_classify.py --lines 60000 --json benchmarks/out/classify.json

Generates a sample (or reads one with --sample DIR holding landing/ and sample_truth/), recovers each good
single-line record's message with the sources registry's header formats, and labels it from the ground truth.
Two held-out splits, each scored line-weighted and per template (every generator template weighs the same):
  (a) "new lines of known events": 20 % of lines at random; their templates may occur in training;
  (b) "unseen templates": 20 % of the generator's templates held out whole; once with the threshold
      calibrated as for (a) (validation by line), once "strict" (validation by template, also unseen).
For each, the model tier is trained on one example per distinct template key of the training part, with its
confidence threshold calibrated on a validation part of the training lines (`train_calibrated`: the lowest
threshold keeping validation accuracy >= 0.99), every source to the model, no LLM; then rules + model classify the held-out lines, cached by template key as in production.
Throughput: a fresh router classifies --throughput-lines lines (the sample's lines repeated), the first
decision of each template included.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from logpilot_dagster.bench.report import write_json_report
from logpilot_dagster.classify.embedder import CachedEmbedder, SentenceEmbedder
from logpilot_dagster.classify.labels import TIER_UNCLASSIFIED
from logpilot_dagster.classify.router import Router
from logpilot_dagster.classify.rules import RuleSet
from logpilot_dagster.classify.training import held_out_split, train_calibrated

# name: (held-out split, validation split the threshold is calibrated on)
SPLITS = {"a_new_lines": ("line", "line"), "b_unseen_templates": ("template", "line"),
          "b_unseen_templates_strict": ("template", "template")}


def labelled_sample(sample: Path) -> pd.DataFrame:
    from logpilot_dagster.ingest.reader import RawLine, read_lines
    from logpilot_dagster.ingest.sources import SourcesRegistry

    truth = pd.read_csv(sample / "sample_truth" / "ground_truth.csv.gz", dtype=str, keep_default_na=False)
    truth = truth[(truth["bad_reason"] == "") & (truth["n_lines"] == "1") & (truth["label"] != "")]
    registry = SourcesRegistry.default()
    rows = []
    for file, group in truth.groupby("file"):
        spec = registry.source_for(file)
        if spec is None:
            continue
        wanted = dict(zip(group["line"].astype(int),
                          zip(group["source"], group["label"], group["template_id"], strict=True), strict=True))
        for raw in read_lines(sample / "landing" / file):
            if isinstance(raw, RawLine) and raw.line_no in wanted:
                try:
                    message = spec.log_format.parse(raw.data.decode("utf-8")).message
                except Exception:  # noqa: BLE001 (headers a format cannot split are not this benchmark's subject)
                    continue
                source, label, template_id = wanted[raw.line_no]
                rows.append((source, message, label, template_id))
    return pd.DataFrame(rows, columns=["source", "log_message", "target_label", "template_id"])


def weighted_report(truth: list[str], predicted: list[str], tiers: list[str], weights: list[float]) -> dict:
    """Accuracy, macro-F1 (over the labels in truth), coverage and accuracy per tier, each line weighted."""
    total = sum(weights)
    tp, support, called = defaultdict(float), defaultdict(float), defaultdict(float)
    tier_w, tier_right = defaultdict(float), defaultdict(float)
    for t, p, tier, w in zip(truth, predicted, tiers, weights, strict=True):
        support[t] += w
        called[p] += w
        tier_w[tier] += w
        if t == p:
            tp[t] += w
            tier_right[tier] += w
    f1 = {}
    for label in support:
        precision = tp[label] / called[label] if called[label] else 0.0
        recall = tp[label] / support[label]
        f1[label] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"accuracy": round(sum(tp.values()) / total, 4), "macro_f1": round(sum(f1.values()) / len(f1), 4),
            "coverage_per_tier": {k: round(v / total, 4) for k, v in sorted(tier_w.items())},
            "accuracy_per_tier": {k: round(tier_right[k] / v, 4) for k, v in sorted(tier_w.items())
                                  if k != TIER_UNCLASSIFIED},
            "per_label_f1": {k: round(v, 4) for k, v in sorted(f1.items())}}


def evaluate_split(data: pd.DataFrame, split_by: str, validation_by: str, embedder, rules: RuleSet
                   ) -> tuple[dict, object]:
    train, test = held_out_split(data, test_size=0.2, seed=0, by=split_by)
    t0 = time.perf_counter()
    model = train_calibrated(train, embedder, rules, seed=0, validation_by=validation_by)
    trained_s = time.perf_counter() - t0
    router = Router(rules=rules, model=model, embedder=embedder)
    decided = router.decide(list(zip(test["source"], test["log_message"], strict=True)))
    truth, predicted, tiers = list(test["target_label"]), [d.target_label for d in decided], [d.tier for d in decided]
    per_template = 1.0 / test.groupby("template_id")["template_id"].transform("size")
    result = {
        "train_lines": len(train), "test_lines": len(test), "train_keys": model.training["distinct_keys"],
        "test_templates": int(test["template_id"].nunique()),
        "test_templates_seen_in_training": int(
            test.loc[test["template_id"].isin(set(train["template_id"])), "template_id"].nunique()),
        "threshold": model.threshold, "calibration": model.training["threshold_calibration"],
        "train_seconds": round(trained_s, 1), "keys_decided": router.stats.templates,
        "line_weighted": weighted_report(truth, predicted, tiers, [1.0] * len(test)),
        "template_weighted": weighted_report(truth, predicted, tiers, list(per_template)),
    }
    return result, model


def _row(name: str, weighting: str, r: dict) -> str:
    cov, acc = r["coverage_per_tier"], r["accuracy_per_tier"]
    tiers = ("rules", "model", TIER_UNCLASSIFIED)
    coverage = " / ".join(f"{cov.get(t, 0.0):.3f}" for t in tiers)
    accuracy = " / ".join(f"{acc[t]:.4f}" if t in acc else "–" for t in tiers[:2])
    return f"| {name} | {weighting} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | {coverage} | {accuracy} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=Path, help="folder with landing/ and sample_truth/ (default: generate)")
    parser.add_argument("--lines", type=int, default=60_000, help="lines to generate")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--throughput-lines", type=int, default=1_000_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    if args.sample is None:
        from logpilot_dagster.samples.generator import generate_sample

        args.sample = Path(tempfile.mkdtemp(prefix="logpilot-bench-"))
        generate_sample(args.sample / "landing", lines=args.lines, seed=args.seed,
                        truth_dir=args.sample / "sample_truth", catalog_path=args.sample / "catalog.csv")
    data = labelled_sample(args.sample)
    print(f"{len(data):,} labelled lines, {data['template_id'].nunique()} templates from {args.sample} "
          f"({time.perf_counter() - started:.0f}s)")
    embedder = CachedEmbedder(SentenceEmbedder())
    rules = RuleSet.default()
    results: dict = {"lines": len(data), "templates": int(data["template_id"].nunique()),
                     "labels": data["target_label"].value_counts().to_dict()}
    table = ["| split | weighting | accuracy | macro-F1 | coverage rules / model / unclassified "
             "| accuracy rules / model |", "|---|---|---|---|---|---|"]
    models = {}
    for name, (split_by, validation_by) in SPLITS.items():
        result, models[name] = evaluate_split(data, split_by, validation_by, embedder, rules)
        results[name] = result
        table.append(_row(name, "line", result["line_weighted"]))
        table.append(_row(name, "template", result["template_weighted"]))
        print(f"{name}: threshold {result['threshold']} ({result['calibration']}), "
              f"{result['train_keys']} training keys, {result['test_templates']} test templates "
              f"({result['test_templates_seen_in_training']} seen in training), trained in {result['train_seconds']}s")
    print("\n".join(table))

    repeats = -(-args.throughput_lines // len(data))
    items = list(zip(data["source"], data["log_message"], strict=True)) * repeats
    items = items[:args.throughput_lines]
    template_ids = (list(data["template_id"]) * repeats)[:args.throughput_lines]
    cold = Router(rules=rules, model=models["a_new_lines"], embedder=CachedEmbedder(SentenceEmbedder()))
    t0 = time.perf_counter()
    for start in range(0, len(items), 100_000):
        cold.decide(items[start:start + 100_000], templates=template_ids[start:start + 100_000])
    elapsed = time.perf_counter() - t0
    results["throughput"] = {"lines": len(items), "seconds": round(elapsed, 2),
                             "lines_per_second": round(len(items) / elapsed),
                             "templates": cold.stats.templates, "model_keys_embedded": cold.stats.model_keys_embedded}
    print(f"throughput: {len(items):,} lines in {elapsed:.1f}s = {len(items) / elapsed:,.0f} lines/s "
          f"({cold.stats.templates:,} templates decided by id, cold cache, embedding included)")
    if args.json:
        write_json_report(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
