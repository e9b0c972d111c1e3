"""Peak memory of the bootstrap engine as input grows (issue 3: RSS at 4M lines <= 1.2 x RSS at 1M).

For each size: build the `logpilot bench throughput` corpus (generated sources plus re-drawn Loghub lines)
in a fresh home, run the engine phase (`run_bootstrap`, landing files to DuckDB) in a child process, and
sample the PSS of its whole process tree (pool workers included). No Drain3 baseline: at 4M lines it
alone takes longer than the engine.

    .venv/bin/python benchmarks/bench_engine_memory.py --lines 1000000,4000000 --workdir /tmp/engine_mem

`--keep` leaves the homes (about 1 GB per million lines) for `bench_parse_worker_memory.py`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from logpilot_dagster.bench.corpus import bench_sources_toml, build_corpus
from logpilot_dagster.bench.report import write_json_report
from logpilot_dagster.bench.throughput import DEFAULT_LOGHUB, run_phase


def measure(home: Path, lines: int, seed: int) -> dict:
    shutil.rmtree(home, ignore_errors=True)
    build_corpus(home / "landing", lines, seed, DEFAULT_LOGHUB if DEFAULT_LOGHUB.is_dir() else None)
    (home / "sources.toml").write_text(bench_sources_toml(), encoding="utf-8")
    answer, peak = run_phase("engine", home, log=home.parent / f"engine_{lines}.log")
    return {"lines": answer["lines_read"], "engine_lines_per_s": round(answer["lines_read"] / answer["seconds"]),
            "peak_pss_mb": round(peak, 1),
            "duckdb_rows_per_s": round(answer["rows"] / answer["step_seconds"]["load"]),
            "steps": {k: round(v, 2) for k, v in answer["step_seconds"].items()},
            "step_memory": answer["step_memory"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", default="1000000,4000000", help="comma-separated corpus sizes")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/logpilot-engine-memory"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep each size's home in the workdir")
    args = parser.parse_args(argv)
    results = []
    for n in (int(x) for x in args.lines.split(",")):
        results.append(measure(args.workdir / f"home_{n}", n, args.seed))
        if not args.keep:
            shutil.rmtree(args.workdir / f"home_{n}", ignore_errors=True)
        print(json.dumps(results[-1]), flush=True)
    if len(results) > 1:
        print(f"peak at {results[-1]['lines']:,} lines / peak at {results[0]['lines']:,} lines: "
              f"{results[-1]['peak_pss_mb'] / results[0]['peak_pss_mb']:.2f}")
    if args.json:
        write_json_report(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
