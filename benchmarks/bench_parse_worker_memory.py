"""One parse worker's peak memory: every staged partition of a bootstrapped home parsed in one process, in key
order, through the same functions a pool worker runs (`steps._init_parse`, `steps._parse_one`).

The home is one that `bench_engine_memory.py --keep` leaves (`W/home_1000000`, `W/home_4000000`); parsing
rewrites its parsed Parquet with the same content.

    .venv/bin/python benchmarks/bench_parse_worker_memory.py --home /tmp/logpilot-engine-memory/home_1000000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from logpilot_dagster.bench.memory import process_memory_mb
from logpilot_dagster.bootstrap import steps
from logpilot_dagster.store.layout import HomeLayout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True, help="a bootstrapped home (staging/ filled)")
    args = parser.parse_args(argv)
    layout = HomeLayout(args.home.resolve())
    keys = steps.staged_keys(layout)
    started = time.perf_counter()
    steps._init_parse(layout)
    rows = sum(steps._parse_one(key) for key in keys)
    seconds = time.perf_counter() - started
    peak_mb = process_memory_mb("VmHWM")
    print(f"{rows:,} rows from {len(keys)} partitions in {seconds:.1f}s; peak RSS of this process {peak_mb:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
