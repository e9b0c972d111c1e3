"""Classification in a bootstrap: how much time labelling adds, and how right the labels in `logs_labelled` are.

1. train: a sample (`--train-seed`, `--train-lines`) goes through the engine bootstrap, the training set is
   assembled as the `training_set` asset does (ground truth joined to `logs`), and a model is trained and
   promoted as `log_classifier` does (held-out lines, calibrated threshold, rules first);
2. bootstrap: another sample (`--seed`, `--lines`: the same generator, other values, other days) goes through
   the engine bootstrap (`run_bootstrap`, landing files to DuckDB), timed;
3. classify: `label_templates` labels every template of that warehouse with the promoted model, timed from a
   cold start (a fresh Python process: imports, embedder and model loaded inside the timing; empty template
   cache), as the `template_labels` step does;
   the model store's vector cache (`embeddings.npz`, written by training) spares re-embedding the templates
   training already saw;
   `logs_labelled` then gives every line its label;
4. score: `logs_labelled` joined to the second sample's ground truth on file and line, per deciding tier.

    .venv/bin/python benchmarks/bench_bootstrap_classify.py --lines 1000000 --json benchmarks/out/boot_cls.json

Step 4 alone, on a home whose templates are labelled already (`make run` leaves one in `.logpilot`):

    .venv/bin/python benchmarks/bench_bootstrap_classify.py --score .logpilot

The 1,000-line CSV the README times `logpilot classify` on, from the bootstrap home of a `--workdir W` run:

    .venv/bin/python benchmarks/bench_bootstrap_classify.py --classify-csv W/bootstrap IN.csv
    rm -f W/train/models/classifier/embeddings-*.npz
    cp W/train/models/classifier/embeddings.trained.npz W/train/models/classifier/embeddings.npz
    time .venv/bin/logpilot classify --input IN.csv --output OUT.csv --model W/train/models/classifier

Step 3 alone (its cold start), on the homes of a `--workdir W` run. Labelling adds the vectors it computed to
the store, so put back the store's vectors as training left them (the benchmark keeps a copy, `TRAINED_VECTORS`) and empty the
label cache first; without the `rm` of the segments labelling saved and the `cp`, every vector is cached and
torch is never imported:

    rm -f W/train/models/classifier/embeddings-*.npz
    cp W/train/models/classifier/embeddings.trained.npz W/train/models/classifier/embeddings.npz
    rm -f W/bootstrap/models/template_labels_cache.json
    time .venv/bin/python benchmarks/bench_bootstrap_classify.py --label W/bootstrap W/train/models/classifier
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np

from logpilot_dagster.bench.report import write_json_report
from logpilot_dagster.bootstrap.steps import run_bootstrap
from logpilot_dagster.classify import vector_files
from logpilot_dagster.classify.classifier import ClassifierConfig, HybridClassifier, default_model_store
from logpilot_dagster.classify.embedder import EMBEDDINGS_FILE, store_embedder
from logpilot_dagster.classify.rules import RuleSet
from logpilot_dagster.classify.template_labels import label_templates
from logpilot_dagster.classify.training import train_and_register
from logpilot_dagster.classify.training_data import assemble_training_set
from logpilot_dagster.samples.generator import generate_sample
from logpilot_dagster.store.layout import HomeLayout

TRAINED_VECTORS = "embeddings.trained.npz"  # the store's vectors as training left them (for step 3 alone)


def bootstrap_home(home: Path, lines: int, seed: int) -> tuple[HomeLayout, float, int]:
    """A generated sample bootstrapped by the engine; the layout, the bootstrap's seconds and lines read."""
    layout = HomeLayout(home)
    generate_sample(layout.landing, lines=lines, seed=seed, truth_dir=layout.sample_truth,
                    catalog_path=layout.system_catalog_csv)
    started = time.perf_counter()
    result = run_bootstrap(layout)
    seconds = time.perf_counter() - started
    return layout, seconds, sum(s.lines_read - s.header_lines for s in result.stages)


def train_promoted(layout: HomeLayout, store: Path) -> dict:
    with duckdb.connect(str(layout.duckdb)) as con:
        frame = assemble_training_set(con, layout)
    embedder = store_embedder(store)
    outcome = train_and_register(frame, store, embedder, rules=RuleSet.default())
    return {"examples": len(frame), "held_out_accuracy": outcome.metrics.get("accuracy"),
            "held_out_macro_f1": outcome.metrics.get("macro_f1"), "threshold": outcome.threshold,
            "promoted": outcome.promoted}


def classify_warehouse(layout: HomeLayout, store: Path) -> tuple[dict, float]:
    """`label_templates` in a fresh Python process, as the `template_labels` step runs: its wall clock
    includes starting Python and importing the model stack (this process already has it loaded)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--label", str(layout.home), str(store)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1]), time.perf_counter() - started


def label_in_this_process(home: Path, store: Path) -> dict:
    layout = HomeLayout(home)
    classifier = HybridClassifier(ClassifierConfig(model_dir=str(store), use_model=True))
    with duckdb.connect(str(layout.duckdb)) as con:
        summary = label_templates(con, classifier, layout.label_cache)
    embedder = classifier.embedder
    return {"templates": summary.templates, "decided_now": summary.decided_now,
            "llm_calls": summary.llm_calls, "lines_by_tier": dict(summary.lines_by_tier),
            "vectors_from_training": embedder.from_store if embedder else 0,
            "texts_embedded": embedder.computed if embedder else 0}


def write_classify_csv(home: Path, target: Path, known: int = 980) -> None:
    """The CSV `logpilot classify` is timed on: `known` lines drawn (repeatably) from the bootstrap's `logs`,
    then 20 of two kinds the model never saw (10 templates' worth, all to embed)."""
    import csv

    with duckdb.connect(str(HomeLayout(home).duckdb), read_only=True) as con:
        rows = con.execute(f"SELECT source, message FROM logs USING SAMPLE reservoir({int(known)} ROWS) "
                           "REPEATABLE (3)").fetchall()
    rows += [("payments", f"ledger shard {i} rebalanced in {i * 7} ms after quorum vote by node-{i % 4}")
             for i in range(10)]
    rows += [("legacy_mainframe", f"JOB{i:04d} ABEND S0C{i % 9} IN STEP {i} PGM=PAYROLL") for i in range(10)]
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["source", "log_message"])
        writer.writerows(rows)


def agreement(layout: HomeLayout) -> dict:
    """Share of good lines whose label in `logs_labelled` is the generator's, overall and per deciding tier."""
    with duckdb.connect(str(layout.duckdb), read_only=True) as con:
        rows = con.execute("""
            SELECT l.label_tier, count(*), sum((l.label = t.label)::INT)
            FROM logs_labelled l
            JOIN (SELECT file, CAST(line AS BIGINT) AS line, label
                  FROM read_csv(?, all_varchar = true, header = true)
                  WHERE coalesce(label, '') <> '' AND coalesce(bad_reason, '') = '') t
              ON l.partition_key = t.file AND l.line_no = t.line
            GROUP BY ALL ORDER BY 1
        """, [str(layout.ground_truth)]).fetchall()
    total, right = sum(r[1] for r in rows), sum(r[2] for r in rows)
    return {"lines": total, "accuracy": right / total if total else 0.0,
            "per_tier": {tier or "none": {"lines": n, "accuracy": ok / n} for tier, n, ok in rows}}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--label"]:  # the child of `classify_warehouse`
        print(json.dumps(label_in_this_process(Path(argv[1]), Path(argv[2]))))
        return 0
    if argv[:1] == ["--classify-csv"]:  # the input of the `logpilot classify` timing (README)
        write_classify_csv(Path(argv[1]), Path(argv[2]))
        return 0
    if argv[:1] == ["--score"]:  # only step 4, on a home labelled already (e.g. `make run`'s .logpilot)
        print(json.dumps(agreement(HomeLayout(Path(argv[1]).resolve())), indent=1))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines of the bootstrapped sample")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--train-lines", type=int, default=100_000, help="lines of the sample trained on")
    parser.add_argument("--train-seed", type=int, default=11)
    parser.add_argument("--workdir", type=Path, help="keep both homes here (default: a temp folder)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="logpilot-boot-cls-"))
    train_layout, _, train_lines = bootstrap_home(workdir / "train", args.train_lines, args.train_seed)
    store = default_model_store(train_layout)
    training = train_promoted(train_layout, store)
    model = store_embedder(store).name
    _, trained = vector_files.collect(store / EMBEDDINGS_FILE, model)  # the base and any segments
    vector_files.write(store / TRAINED_VECTORS, model, list(trained), np.stack(list(trained.values())))
    print(f"trained on {train_lines:,} lines (seed {args.train_seed}): {json.dumps(training)}")

    layout, boot_s, lines = bootstrap_home(workdir / "bootstrap", args.lines, args.seed)
    labelling, cls_s = classify_warehouse(layout, store)
    score = agreement(layout)
    result = {"lines": lines, "bootstrap_seconds": round(boot_s, 2), "classification_seconds": round(cls_s, 2),
              "classification_share_of_bootstrap": round(cls_s / boot_s, 4),
              "classified_lines_per_s": round(lines / cls_s), "labelling": labelling,
              "agreement_with_truth": score, "training": training, "train_lines": train_lines}
    print(f"{lines:,} lines: bootstrap {boot_s:.1f}s, classification {cls_s:.1f}s "
          f"(+{cls_s / boot_s:.1%}; {lines / cls_s:,.0f} lines/s amortised; "
          f"{labelling['templates']} templates, {labelling['texts_embedded']} embedded, "
          f"{labelling['llm_calls']} LLM calls)")
    print(f"labels agree with the ground truth on {score['accuracy']:.2%} of {score['lines']:,} lines")
    for tier, s in score["per_tier"].items():
        print(f"  {tier:<13}{s['lines']:>10,} lines  accuracy {s['accuracy']:.4f}")
    if args.json:
        write_json_report(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
