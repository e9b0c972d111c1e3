"""Search's paraphrase hit rate at 5 over a freshly bootstrapped sample (no Dagster, no LLM).

    .venv/bin/python benchmarks/bench_search.py --lines 40000            # a throw-away home
    .venv/bin/python benchmarks/bench_search.py --home .logpilot          # an existing home (after `make run`)

Prints the hit rate, the paraphrases whose template the sample lacks, and every miss with what came back.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

HERE = Path(__file__).resolve().parent


def build_home(root: Path, lines: int, seed: int):
    """A bootstrapped sample without Dagster. Each template gets the label most of its lines have in the
    generator's ground truth (a stand-in for the trained classifier `make run` uses, minutes faster)."""

    from logpilot_dagster.bench.truth_labels import label_from_truth
    from logpilot_dagster.bootstrap.steps import run_bootstrap
    from logpilot_dagster.ingest.catalog import read_system_catalog
    from logpilot_dagster.samples.generator import generate_sample
    from logpilot_dagster.store import tables
    from logpilot_dagster.store.layout import HomeLayout

    layout = HomeLayout.from_env(root).ensure()
    generate_sample(layout.landing, lines=lines, seed=seed, truth_dir=layout.sample_truth,
                    catalog_path=layout.system_catalog_csv)
    run_bootstrap(layout)
    with tables.connect(layout.duckdb) as con:
        tables.replace_system_catalog(con, read_system_catalog(layout.system_catalog_csv))
        label_from_truth(con, layout)
    return layout


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", type=Path, help="an existing LogPilot home (else a sample is built)")
    parser.add_argument("--lines", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--paraphrases", type=Path, default=HERE / "search_paraphrases.toml")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    from logpilot_dagster.store import tables
    from logpilot_dagster.store.layout import HomeLayout
    from logpilot_dagster.vectors.evaluation import hit_rate, read_paraphrases
    from logpilot_dagster.vectors.index import default_embedder, index_runbooks, index_templates, open_index

    with tempfile.TemporaryDirectory() as scratch:
        layout = HomeLayout.from_env(args.home) if args.home else build_home(Path(scratch) / "home", args.lines,
                                                                             args.seed)
        embedder = default_embedder(layout)
        started = time.perf_counter()
        synced = index_templates(layout, embedder)
        index_runbooks(layout, embedder)
        indexed_s = time.perf_counter() - started
        with tables.connect(layout.duckdb, read_only=True) as con:
            templates = con.execute("SELECT source, template FROM templates").fetchall()
        started = time.perf_counter()
        result = hit_rate(open_index(layout, embedder), read_paraphrases(args.paraphrases), templates, k=args.k)
        search_s = time.perf_counter() - started
    figures = {"hit_rate_at_k": round(result.rate, 4), "k": args.k, "hits": result.hits, "asked": result.asked,
               "missing_templates": len(result.missing), "templates": synced.total,
               "index_seconds": round(indexed_s, 1), "search_ms_per_query": round(1000 * search_s / max(1, result.asked), 1)}
    print(json.dumps(figures))
    for query in result.missing:
        print(f"  not in this sample: {query}", file=sys.stderr)
    for query, got in result.misses:
        print(f"  MISS {query!r}\n      " + "\n      ".join(got), file=sys.stderr)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
