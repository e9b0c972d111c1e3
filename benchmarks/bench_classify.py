"""Classification accuracy and throughput on the sample generator's data (no LLM tier).

    .venv/bin/python benchmarks/bench_classify.py --lines 200000 --json benchmarks/out/classify.json

Generates a sample (or reads one with --sample DIR holding landing/ and sample_truth/), recovers each good
single-line record's message with the sources registry's header formats, and labels it from the ground truth.
Then, for a held-out split by line and one by template: trains the model tier on the training part and
evaluates rules + model on the rest. Throughput: a fresh router classifies --throughput-lines lines
(the sample's lines repeated), the first decision of each template included.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from logpilot_dagster.classify.embedder import CachedEmbedder, SentenceEmbedder  # noqa: E402
from logpilot_dagster.classify.evaluation import classification_report  # noqa: E402
from logpilot_dagster.classify.model import train_classifier  # noqa: E402
from logpilot_dagster.classify.router import Router  # noqa: E402
from logpilot_dagster.classify.rules import RuleSet  # noqa: E402
from logpilot_dagster.classify.training import evaluate_model, held_out_split  # noqa: E402


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=Path, help="folder with landing/ and sample_truth/ (default: generate)")
    parser.add_argument("--lines", type=int, default=200_000, help="lines to generate")
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
    print(f"{len(data):,} labelled lines from {args.sample} ({time.perf_counter() - started:.0f}s)")
    embedder = CachedEmbedder(SentenceEmbedder())
    rules = RuleSet.default()
    results: dict = {"lines": len(data), "labels": data["target_label"].value_counts().to_dict()}
    for split_by in ("line", "template"):
        train, test = held_out_split(data, test_size=0.2, seed=0, by=split_by)
        t0 = time.perf_counter()
        model = train_classifier(list(train["log_message"]), list(train["target_label"]), embedder)
        trained_s = time.perf_counter() - t0
        report = evaluate_model(model, embedder, test, rules)
        by_id = Router(rules=rules, model=model, embedder=embedder)
        decided = by_id.decide(list(zip(test["source"], test["log_message"], strict=True)),
                               templates=list(test["template_id"]))
        id_report = classification_report(list(test["target_label"]), [d.target_label for d in decided],
                                          [d.tier for d in decided], labels=sorted(set(test["target_label"])))
        results[f"split_by_{split_by}"] = {
            "train_lines": len(train), "test_lines": len(test), "train_keys": model.training["distinct_keys"],
            "train_seconds": round(trained_s, 1), "accuracy": report["accuracy"], "macro_f1": report["macro_f1"],
            "coverage_per_tier": report["coverage_per_tier"], "accuracy_per_tier": report["accuracy_per_tier"],
            "per_label_f1": {k: round(v["f1"], 4) for k, v in report["per_label"].items()},
            "llm_calls": report["llm_calls"], "templates_in_test": report["templates"],
            "with_template_ids": {"accuracy": id_report["accuracy"], "macro_f1": id_report["macro_f1"],
                                  "coverage_per_tier": id_report["coverage_per_tier"],
                                  "accuracy_per_tier": id_report["accuracy_per_tier"],
                                  "templates_in_test": by_id.stats.templates},
        }
        print(f"split by {split_by}: accuracy {report['accuracy']:.4f} macro-F1 {report['macro_f1']:.4f} "
              f"coverage {report['coverage_per_tier']} accuracy/tier {report['accuracy_per_tier']}")
        print(f"  cache by template id: accuracy {id_report['accuracy']:.4f} macro-F1 {id_report['macro_f1']:.4f} "
              f"coverage {id_report['coverage_per_tier']} accuracy/tier {id_report['accuracy_per_tier']}")
        if split_by == "line":
            line_model = model

    repeats = -(-args.throughput_lines // len(data))
    items = list(zip(data["source"], data["log_message"], strict=True)) * repeats
    items = items[:args.throughput_lines]
    template_ids = (list(data["template_id"]) * repeats)[:args.throughput_lines]
    cold = Router(rules=rules, model=line_model, embedder=CachedEmbedder(SentenceEmbedder()))
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
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
