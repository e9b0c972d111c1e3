"""Tiering and purge on a real warehouse: rows/s and peak memory of `tier` on the 200k sample and on a 4M-row
warehouse, how much slower a query over logs_all (hot + warm) is than the same query on an all-hot table, and
the time of one purge over the 200k sample with warm and cold tiers.

    python benchmarks/bench_lifecycle.py [--lines 200000] [--scale 20] [--json out.json]

The 4M-row warehouse is the sample's rows repeated `--scale` times with fresh log_ids and timestamps spread
over the same 420 days (tiering reads rows, not their origin). Each tiering run is a child process, so its
peak memory (VmHWM) is its own.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from logpilot_dagster.bench.report import write_json_report
from logpilot_dagster.bootstrap.steps import run_bootstrap
from logpilot_dagster.samples.generator import generate_sample
from logpilot_dagster.store.layout import HomeLayout

NOW = "2026-11-02T00:00:00+00:00"
QUERY = "SELECT source, level, count(*), min(ts), max(ts) FROM {view} GROUP BY ALL ORDER BY ALL"
CHILD = """
import json, sys, time
from datetime import datetime
from logpilot_dagster.bench.memory import process_memory_mb
from logpilot_dagster.lifecycle.tiering import tier
from logpilot_dagster.store.layout import HomeLayout
started = time.perf_counter()
result = tier(HomeLayout.from_env(sys.argv[1]), datetime.fromisoformat(sys.argv[2]))
print(json.dumps({"seconds": time.perf_counter() - started, "peak_mb": process_memory_mb("VmHWM"),
                  "warm_rows": result["warm"]["rows"], "cold_rows": result["cold"]["rows"],
                  "tiers": result["tiers"]}))
"""


def _tier_in_child(layout: HomeLayout) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(layout.home), NOW], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _query_seconds(path: Path, view: str, repeat: int = 5) -> float:
    with duckdb.connect(str(path), read_only=True) as con:
        con.execute(QUERY.format(view=view)).fetchall()  # warm the OS cache and DuckDB's
        best = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            con.execute(QUERY.format(view=view)).fetchall()
            best = min(best, time.perf_counter() - started)
    return best


def _scaled(source: HomeLayout, target: HomeLayout, scale: int) -> int:
    """A warehouse holding the source's rows `scale` times (fresh ids, shifted timestamps)."""
    shutil.copytree(source.home, target.home)
    with duckdb.connect(str(target.duckdb)) as con:
        con.execute("""
            INSERT INTO logs SELECT hash(log_id, copy) AS log_id,
                   ts - to_days(CAST(copy AS INTEGER) * 17 % 420) AS ts, source, level, component, message,
                   template_id, params, kv, ingest_mode, partition_key || '#' || copy, line_no, n_lines
            FROM (SELECT * EXCLUDE (origin) FROM logs), range(1, ?) r(copy)
        """, [scale])
        rows, = con.execute("SELECT count(*) FROM logs").fetchone()
    return int(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--scale", type=int, default=20, help="copies of the sample in the large warehouse")
    parser.add_argument("--subject", default="zmuller", help="a user name of the sample to purge")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench_lifecycle_"))
    try:
        sample = HomeLayout(work / "sample").ensure()
        sample.landing.rmdir()
        generate_sample(sample.landing, lines=args.lines, seed=7)
        run_bootstrap(sample)
        large = HomeLayout(work / "large")
        large_rows = _scaled(sample, large, args.scale)
        hot_copy = work / "all_hot.duckdb"
        shutil.copy(sample.duckdb, hot_copy)
        report: dict = {"now": NOW}
        for name, layout in (("sample", sample), ("large", large)):
            with duckdb.connect(str(layout.duckdb), read_only=True) as con:
                rows, = con.execute("SELECT count(*) FROM logs").fetchone()
            run = _tier_in_child(layout)
            moved = run["warm_rows"] + run["cold_rows"]
            report[name] = {"rows": rows, **run, "rows_moved_per_second": round(moved / run["seconds"])}
            print(f"{name}: {rows:,} rows; tiering moved {run['warm_rows']:,} to warm and {run['cold_rows']:,} "
                  f"to cold in {run['seconds']:.1f}s ({moved / run['seconds']:,.0f} rows/s), peak "
                  f"{run['peak_mb']:,.0f} MB")
        hot_s, tiered_s = _query_seconds(hot_copy, "logs_all"), _query_seconds(sample.duckdb, "logs_all")
        report["query"] = {"sql": QUERY.format(view="logs_all"), "all_hot_s": hot_s, "hot_plus_warm_s": tiered_s,
                           "ratio": tiered_s / hot_s}
        print(f"query over logs_all: {tiered_s * 1000:,.1f} ms hot+warm vs {hot_s * 1000:,.1f} ms all hot "
              f"({tiered_s / hot_s:.2f}x)")
        from logpilot_dagster.lifecycle.purge import purge

        started = time.perf_counter()
        purged = purge(sample, args.subject, verify=True)
        seconds = time.perf_counter() - started
        report["purge"] = {"seconds": seconds, "lines_purged": purged.lines_purged, "verified": purged.verified,
                           "copies": sum(purged.per_sink.values())}
        print(f"purge of one subject over the {args.lines:,}-line sample with warm and cold tiers: {seconds:.1f}s "
              f"({purged.lines_purged} lines, {sum(purged.per_sink.values())} copies, verified={purged.verified})")
        report["large"]["rows"] = large_rows
        if args.json:
            write_json_report(args.json, report)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
