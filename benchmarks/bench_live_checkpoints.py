"""What a live catch-up's checkpoints cost in DuckDB, by when the row groups are merged (the vacuum).

Each batch a writer appends to the checkpointed `logs` table becomes a row group of its own, and DuckDB's
vacuum merges adjacent small ones into full row groups (122,880 rows), compressing them again. Policies:

- `every`: DuckDB's default, the vacuum at every batch's checkpoint;
- `last`: LogPilot's live writer (`tables.write_live_batch(..., more_follow=...)`): no vacuum while the next
  batch is in hand, one merge at the pass's last batch;
- `next`: no vacuum in the catch-up, the merge left to the next connection that writes (default settings).

Rows are sample records (`logpilot produce`'s generator) in the real `logs` schema, on top of a 200k-row
table; each batch is written and checkpointed under the live writer's settings (one thread, 64MB), each
policy in a child process. Memory is measured by `logpilot bench live` (1M vs 200k backlog), where `next`
let the merge run without the writer's memory limit.

    .venv/bin/python benchmarks/bench_live_checkpoints.py --rows 1000000 --batch 50000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from logpilot_dagster.live.produce import sample_records
from logpilot_dagster.store import tables

POLICIES = ("every", "last", "next")
BASE_ROWS = 200_000


def _rows(n: int, seed: int, first_id: int) -> pa.Table:
    records = list(sample_records(n, seed=seed, start=datetime(2026, 11, 1, tzinfo=UTC)))
    return pa.table({
        "log_id": pa.array(range(first_id, first_id + n), pa.uint64()),
        "ts": pa.array([datetime.fromisoformat(r["ts"]) for r in records], pa.timestamp("us", tz="UTC")),
        "source": [r["source"] for r in records], "level": [r["level"] for r in records],
        "component": pa.nulls(n, pa.string()), "message": [r["message"] for r in records],
        "template_id": [f"{r['source']}:{len(r['message']) % 40}" for r in records],
        "params": pa.array([[] for _ in records], pa.list_(pa.string())),
        "kv": pa.array([[] for _ in records], pa.map_(pa.string(), pa.string())),
        "ingest_mode": ["live"] * n, "partition_key": ["live/bench.jsonl"] * n,
        "line_no": pa.array(range(first_id, first_id + n), pa.int64()), "n_lines": pa.array([1] * n, pa.int32()),
    })


def _append(db: Path, rows: pa.Table, vacuum: bool) -> float:
    """One batch as the live writer writes it; the checkpoint's CPU seconds."""
    with duckdb.connect(str(db)) as con:
        con.execute("SET threads = 1")
        con.execute(f"SET memory_limit = '{tables.DEFAULT_LIVE_MEMORY}'")
        con.execute("RESET max_vacuum_tasks" if vacuum else "SET max_vacuum_tasks = 0")
        con.register("batch_rows", rows)
        names = ", ".join(tables.LOGS_STORED)
        con.execute(f"INSERT INTO logs ({names}) SELECT {names} FROM batch_rows")
        began = time.process_time()
        con.execute("CHECKPOINT")
        return time.process_time() - began


def run_policy(policy: str, rows: int, batch: int, workdir: Path) -> dict:
    db = workdir / f"{policy}.duckdb"
    with duckdb.connect(str(db)) as con:
        tables.ensure_schema(con)
        con.register("base_rows", _rows(BASE_ROWS, 1, 0))
        con.execute(f"INSERT INTO logs ({', '.join(tables.LOGS_STORED)}) SELECT * FROM base_rows")
    data = _rows(rows, 2, BASE_ROWS)
    seconds = []
    for start in range(0, rows, batch):
        last = start + batch >= rows
        seconds.append(_append(db, data.slice(start, batch), vacuum=policy == "every" or (policy == "last" and last)))
    after = 0.0
    if policy == "next":  # what the next connection to write pays (here: one tiny write, default settings)
        with duckdb.connect(str(db)) as con:
            began = time.process_time()
            con.execute("CREATE TABLE IF NOT EXISTS bench_touch (x INTEGER)")
            con.execute("CHECKPOINT")
            after = time.process_time() - began
    with duckdb.connect(str(db), read_only=True) as con:
        groups = con.execute("SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('logs')").fetchone()[0]
    return {"policy": policy, "batches": len(seconds), "checkpoint_cpu_s": round(sum(seconds), 2),
            "last_checkpoint_cpu_s": round(seconds[-1], 2), "next_connection_cpu_s": round(after, 2),
            "row_groups": groups}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--policy", choices=POLICIES, help=argparse.SUPPRESS)  # one policy, in a child
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.policy:
        print(json.dumps(run_policy(args.policy, args.rows, args.batch, args.workdir)))
        return 0
    with tempfile.TemporaryDirectory(prefix="logpilot-ckpt-") as workdir:
        for policy in POLICIES:
            child = subprocess.run([sys.executable, __file__, "--rows", str(args.rows), "--batch", str(args.batch),
                                    "--policy", policy, "--workdir", workdir], capture_output=True, text=True,
                                   check=True)
            print(child.stdout.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
