"""`logpilot bench live`: the live cutover's goals, measured (never asserted) on a throw-away home: the one
`logpilot bootstrap` (what `make run` runs) leaves on a smaller sample, with its classifier and vector index,
so that `logpilot live` runs with its defaults and labels and indexes its new templates as a user's does.

1. exactly once: after a bootstrap, records on both sides of T1 in the stream, `logpilot live --once` killed
   with SIGKILL in the middle of the backlog, re-run, re-run again; every record after its source's T1 must
   be stored once and none before it (folder; and Kafka when a broker is given or `--tansu` starts one);
2. catch-up: wall clock of the whole `logpilot live --once` command over a backlog (start-up included);
3. freshness: with `logpilot live` running (default settings), a record appended to the stream, then polled
   for in `logs` through read-only connections; p50/p95 of append → queryable;
4. memory: peak memory (PSS, process tree) of `logpilot live --once` over a small and a large backlog.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

from logpilot_dagster.bench.memory import TreeMemorySampler
from logpilot_dagster.bench.report import write_json_report
from logpilot_dagster.bench.tansu import create_topic, tansu_broker
from logpilot_dagster.store.layout import HomeLayout


def register(subparsers: argparse._SubParsersAction) -> None:
    live = subparsers.add_parser("live", help="live ingestion: exactly once, catch-up lines/s, freshness, memory")
    live.add_argument("--bootstrap-lines", type=int, default=50_000, help="sample lines bootstrapped (and "
                      "classified and indexed) first")
    live.add_argument("--backlog", type=int, default=200_000, help="records of the catch-up backlog")
    live.add_argument("--large-backlog", type=int, default=1_000_000, help="records for the memory comparison "
                      "(0: skip)")
    live.add_argument("--catch-up-runs", type=int, default=3, help="catch-up runs over the backlog, each on a "
                      "fresh copy (this machine's speed varies from run to run; the median is reported)")
    live.add_argument("--freshness-samples", type=int, default=40)
    live.add_argument("--sensor-samples", type=int, default=0, help="freshness through dagster-daemon and "
                      "live_ingest_sensor, this many probes (0: skip)")
    live.add_argument("--kafka", help="also measure exactly-once on this Kafka HOST:PORT")
    live.add_argument("--tansu", action="store_true", help="start the tansu test broker for the Kafka runs")
    live.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    live.set_defaults(func=_run)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "logpilot_dagster.cli", *args]


def _env(layout: HomeLayout, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGPILOT_")}
    return {**env, "LOGPILOT_HOME": str(layout.home), **extra}


def _counts(layout: HomeLayout) -> dict:
    from logpilot_dagster.store import tables

    with tables.connect(layout.duckdb, read_only=True) as con:
        return {**tables.live_row_counts(con), **tables.conservation(con),
                "live_at_or_before_t1": tables.live_rows_at_or_before_t1(con)}


def _bootstrapped(root: Path, lines: int) -> HomeLayout:
    """The base home; Dagster's event stream goes to a log file, whose tail is shown if the bootstrap fails."""
    layout = HomeLayout.from_env(root / "bootstrapped")
    log = root / "bootstrap.log"
    with log.open("w", encoding="utf-8") as sink:
        done = subprocess.run(_cli("bootstrap", "--sample-lines", str(lines), "--seed", "7"), stdout=sink,
                              stderr=subprocess.STDOUT, env=_env(layout, DAGSTER_HOME=str(root / "dagster_home")))
    if done.returncode != 0:
        tail = "".join(log.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)[-20:])
        raise SystemExit(f"logpilot bench live: the base home's `logpilot bootstrap` failed "
                         f"(exit {done.returncode}):\n{tail}")
    return layout


def _copy(layout: HomeLayout, root: Path, name: str) -> HomeLayout:
    target = root / name
    shutil.copytree(layout.home, target, ignore=shutil.ignore_patterns("live"))
    return HomeLayout.from_env(target)


def _t1(layout: HomeLayout) -> dict:
    from logpilot_dagster.store import tables

    with tables.connect(layout.duckdb, read_only=True) as con:
        return tables.bootstrap_t1(con)


def _expected_after_t1(records: list[dict], t1: dict) -> int:
    return sum(1 for r in records if r["source"] not in t1 or datetime.fromisoformat(r["ts"]) > t1[r["source"]])


def _produce(stream, records, chunk: int = 50_000) -> None:
    """Append in chunks, so a million-record backlog never sits in memory at once."""
    pending = []
    for record in records:
        pending.append(record)
        if len(pending) >= chunk:
            stream.append(pending)
            pending = []
    if pending:
        stream.append(pending)


def exactly_once(layout: HomeLayout, n: int, env: dict[str, str], stream) -> dict:
    """Records from 2 h before the latest T1 to long after; kill -9 mid-backlog; re-run twice."""
    from logpilot_dagster.live.produce import sample_records

    t1 = _t1(layout)
    latest = max(t1.values())
    records = list(sample_records(n, seed=13, start=latest - timedelta(hours=2), step=timedelta(milliseconds=200)))
    _produce(stream, records)
    wanted = _expected_after_t1(records, t1)
    process = subprocess.Popen(_cli("live", "--once", "--batch-records", "10000"), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line or line.startswith("batch 2:"):
            break
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    at_kill = _counts(layout)["live"]
    runs = [json.loads(subprocess.run(_cli("live", "--once", "--json"), env=env, check=True,
                                      capture_output=True, text=True, timeout=1800).stdout) for _ in range(2)]
    after = _counts(layout)
    return {"records": n, "after_t1": wanted, "stored_at_kill": at_kill, "stored": after["live"],
            "stored_twice": after["live_stored_twice"], "stored_at_or_before_t1": after["live_at_or_before_t1"],
            "second_rerun_stored": runs[1]["rows_stored"],
            "conservation_holds": after["lines_read"] == after["lines_stored"] + after["lines_quarantined"]
            + after.get("lines_purged", 0),
            "exactly_once": after["live"] == wanted and after["live_stored_twice"] == 0
            and after["live_at_or_before_t1"] == 0 and runs[1]["rows_stored"] == 0}


def catch_up(layout: HomeLayout, n: int) -> dict:
    from logpilot_dagster.live.folder import FolderStream
    from logpilot_dagster.live.produce import sample_records

    start = max(_t1(layout).values()) + timedelta(seconds=1)
    _produce(FolderStream(layout.live), sample_records(n, seed=21, start=start))
    began = time.perf_counter()
    process = subprocess.Popen(_cli("live", "--once", "--json"), env=_env(layout),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    with TreeMemorySampler(process.pid) as sampler:
        out, _ = process.communicate(timeout=3600)
    seconds = time.perf_counter() - began
    report = json.loads(out)
    return {"records": n, "seconds": round(seconds, 2), "lines_per_s": round(report["records_read"] / seconds),
            "rows_stored": report["rows_stored"], "new_templates": report["new_templates"],
            "labelled_templates": report["labelled_templates"], "peak_memory_mb": round(sampler.peak_mb)}


def _median_run(runs: list[dict]) -> dict:
    """The run of median speed, with every run's lines/s beside it."""
    ordered = sorted(runs, key=lambda run: run["lines_per_s"])
    return {**ordered[len(ordered) // 2], "runs_lines_per_s": [run["lines_per_s"] for run in runs]}


def freshness(layout: HomeLayout, samples: int) -> dict:
    """Append one record, poll `logs` read-only until it is there; `logpilot live` runs with its defaults."""
    from logpilot_dagster.live.folder import FolderStream
    from logpilot_dagster.store import tables

    stream = FolderStream(layout.live)
    process = subprocess.Popen(_cli("live"), env=_env(layout), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    latencies = []
    try:
        for i in range(samples):
            marker = f"freshness probe {i} {time.time_ns()}"
            stream.append([{"ts": datetime.now(UTC).isoformat(), "source": "bench", "message": marker}])
            sent = time.perf_counter()
            deadline = sent + 120
            while time.perf_counter() < deadline:
                with tables.connect(layout.duckdb, read_only=True, timeout_s=30) as con:
                    if tables.message_stored(con, "bench", marker):
                        latencies.append(time.perf_counter() - sent)
                        break
                time.sleep(0.05)
            time.sleep(0.3)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 3) if latencies else float("nan")

    return {"samples": samples, "seen": len(latencies), "p50_s": pct(0.5), "p95_s": pct(0.95),
            "max_s": round(latencies[-1], 3) if latencies else None}


def _run(args: argparse.Namespace) -> int:
    from logpilot_dagster.live.folder import FolderStream

    results: dict = {"command": " ".join(["logpilot", "bench", "live", *sys.argv[3:]]),
                     "date": datetime.now(UTC).isoformat(timespec="seconds")}
    with tempfile.TemporaryDirectory(prefix="lp-bench-live-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        print(f"bootstrapping, classifying and indexing {args.bootstrap_lines:,} sample lines", file=sys.stderr)
        base = _bootstrapped(root, args.bootstrap_lines)
        folder_home = _copy(base, root, "exactly_once_folder")
        print("exactly once (folder)", file=sys.stderr)
        results["exactly_once_folder"] = exactly_once(folder_home, 60_000, _env(folder_home),
                                                      FolderStream(folder_home.live))
        kafka = args.kafka
        if args.tansu and not kafka:
            kafka = stack.enter_context(tansu_broker()).bootstrap
        if kafka:
            from logpilot_dagster.live.kafka import KafkaStream

            topic = f"bench-{os.getpid()}"
            create_topic(kafka, topic, 3)
            kafka_home = _copy(base, root, "exactly_once_kafka")
            print(f"exactly once (Kafka {kafka}, topic {topic})", file=sys.stderr)
            with KafkaStream(kafka, topic) as stream:
                results["exactly_once_kafka"] = exactly_once(kafka_home, 60_000, _env(
                    kafka_home, LOGPILOT_STREAM="kafka", LOGPILOT_KAFKA_BOOTSTRAP=kafka, LOGPILOT_KAFKA_TOPIC=topic),
                    stream)
        print(f"catch-up over {args.backlog:,} records, {args.catch_up_runs} runs", file=sys.stderr)
        results["catch_up"] = _median_run([catch_up(_copy(base, root, f"catch_up_{i}"), args.backlog)
                                           for i in range(max(1, args.catch_up_runs))])
        print(json.dumps(results), file=sys.stderr)
        print("freshness", file=sys.stderr)
        results["freshness"] = freshness(_copy(base, root, "freshness"), args.freshness_samples)
        if args.sensor_samples:
            from logpilot_dagster.bench.live_sensor import sensor_freshness

            print("freshness through the Dagster sensor", file=sys.stderr)
            results["freshness_sensor"] = sensor_freshness(_copy(base, root, "sensor"), args.sensor_samples)
        if args.large_backlog:
            print(f"memory over {args.large_backlog:,} records", file=sys.stderr)
            large = catch_up(_copy(base, root, "large"), args.large_backlog)
            results["catch_up_large"] = large
            results["memory_ratio_large_to_small"] = round(large["peak_memory_mb"]
                                                           / max(1, results["catch_up"]["peak_memory_mb"]), 3)
    print(json.dumps(results, indent=2))
    if args.json:
        print(f"wrote {write_json_report(args.json, results)}", file=sys.stderr)
    return 0
