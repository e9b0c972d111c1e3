"""Memory of the bulk load alone: a bootstrapped home's parsed Parquet into a fresh DuckDB file.

The home is any engine home with parsed files, e.g. the `engine` folder a
`logpilot bench throughput --lines 4000000 --no-dagster --workdir W` run keeps. Run it once with the default
cap and once with `LOGPILOT_LOAD_MEMORY_LIMIT` raised to DuckDB's own default (80 % of RAM) to compare:

    .venv/bin/python benchmarks/bench_load_memory.py --home W/engine
    LOGPILOT_LOAD_MEMORY_LIMIT=19GB .venv/bin/python benchmarks/bench_load_memory.py --home W/engine
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from logpilot_dagster.bench.memory import process_memory_mb
from logpilot_dagster.bootstrap.steps import load as load_logs
from logpilot_dagster.store.layout import HomeLayout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True, help="a bootstrapped home (parsed/ filled)")
    args = parser.parse_args(argv)
    layout = HomeLayout(args.home.resolve())
    with tempfile.TemporaryDirectory(prefix="logpilot-load-") as scratch, \
            duckdb.connect(str(Path(scratch) / "load.duckdb")) as con:
        started = time.perf_counter()
        result = load_logs(con, layout, layout.landing_keys())
        seconds = time.perf_counter() - started
    peak_mb = process_memory_mb("VmHWM")
    print(f"{result.rows:,} rows from {result.partitions} partitions in {seconds:.1f}s "
          f"({result.rows / seconds:,.0f} rows/s); peak RSS of this process {peak_mb:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
