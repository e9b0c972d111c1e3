"""`logpilot bench throughput`: LogPilot's bootstrap against Drain3 alone, over the same corpus, in one run.

1. baseline: Drain3 `TemplateMiner.add_log_message` over the staged message contents, one process;
2. engine: `run_bootstrap` from landing files to loaded DuckDB tables (decode, headers, masking, mining,
   parameters, Parquet, DuckDB);
3. dagster: the same through `execute_job` on a fresh Dagster instance, as `make run` does (wall clock).

Each phase runs in its own child process, and a sampler sums the resident memory of that process and all
its descendants, so the peak RSS is the phase's whole footprint (process pool included).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from logpilot_dagster.bench.corpus import bench_sources_toml, build_corpus
from logpilot_dagster.bench.memory import TreeMemorySampler
from logpilot_dagster.bench.report import write_json_report


def _significant(ratio: float) -> float:
    """Four significant digits: a tiny-N run's ratio (0.0004) must not round to zero."""
    return float(f"{ratio:.4g}")


@dataclass
class ThroughputResult:
    lines: int
    drain3_lines_per_s: float
    engine_lines_per_s: float
    dagster_lines_per_s: float | None
    engine_ratio: float
    dagster_ratio: float | None
    peak_rss_mb: float
    duckdb_rows_per_s: float
    engine_seconds: dict[str, float]
    dagster_peak_rss_mb: float | None = None


def run_throughput(lines: int, workdir: Path | None = None, seed: int = 7, loghub: Path | None = None,
                   with_dagster: bool = True) -> ThroughputResult:
    own_tmp = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="logpilot-bench-")) if own_tmp else workdir
    try:
        engine_home, dagster_home = workdir / "engine", workdir / "dagster"
        build_corpus(engine_home / "landing", lines, seed, loghub)
        for home in (engine_home, dagster_home):
            home.mkdir(parents=True, exist_ok=True)
            (home / "sources.toml").write_text(bench_sources_toml(), encoding="utf-8")
        shutil.copytree(engine_home / "landing", dagster_home / "landing", copy_function=os.link)

        engine, engine_rss = run_phase("engine", engine_home, log=workdir / "engine.log")
        drain3, _ = run_phase("drain3", engine_home, log=workdir / "drain3.log")
        dagster_s, dagster_rss = None, None
        if with_dagster:
            started = time.perf_counter()
            _, dagster_rss = run_phase("dagster", dagster_home, log=workdir / "dagster.log", cwd=workdir)
            dagster_s = time.perf_counter() - started
        n = engine["lines_read"]
        engine_rate = n / engine["seconds"]
        drain3_rate = drain3["messages"] / drain3["seconds"]
        dagster_rate = n / dagster_s if dagster_s else None
        return ThroughputResult(
            lines=n,
            drain3_lines_per_s=round(drain3_rate),
            engine_lines_per_s=round(engine_rate),
            dagster_lines_per_s=round(dagster_rate) if dagster_rate else None,
            engine_ratio=_significant(engine_rate / drain3_rate),
            dagster_ratio=_significant(dagster_rate / drain3_rate) if dagster_rate else None,
            peak_rss_mb=round(engine_rss, 1),
            duckdb_rows_per_s=round(engine["rows"] / engine["step_seconds"]["load"]),
            engine_seconds={k: round(v, 2) for k, v in engine["step_seconds"].items()},
            dagster_peak_rss_mb=round(dagster_rss, 1) if dagster_rss else None,
        )
    finally:
        if own_tmp:
            shutil.rmtree(workdir, ignore_errors=True)


# --- child processes --------------------------------------------------------------------------------


def run_phase(phase: str, home: Path, log: Path, cwd: Path | None = None) -> tuple[dict, float]:
    """Run a phase (`engine`, `drain3`, `dagster`) over `home` in a child process; return its JSON answer
    (last stdout line) and its process tree's peak memory in MB.

    The child's log (Dagster's event stream is thousands of lines) goes to `log`, not the terminal;
    its tail is shown only when the phase fails."""
    command = [sys.executable, "-m", __name__, phase, str(home)]
    env = {**os.environ, "LOGPILOT_HOME": str(home), "DAGSTER_HOME": str(home / "dagster_home")}
    with log.open("w", encoding="utf-8") as log_file:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log_file, text=True, cwd=cwd, env=env)
        with TreeMemorySampler(process.pid) as sampler:
            out, _ = process.communicate()
    if process.returncode != 0:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:])
        raise RuntimeError(f"benchmark phase failed (exit {process.returncode}): {' '.join(command)}\n"
                           f"last lines of {log}:\n{tail}")
    lines = [line for line in out.splitlines() if line.startswith("{")]
    answer = json.loads(lines[-1]) if lines else {}
    if "step_started" in answer:  # which step holds the memory, and the parent's own share of it
        answer["step_memory"] = sampler.step_peaks(answer["step_started"], answer["ended"])
    return answer, sampler.peak_mb


def _phase_engine(home: Path) -> dict:
    from logpilot_dagster.bootstrap.steps import run_bootstrap
    from logpilot_dagster.ingest.sources import SourcesRegistry
    from logpilot_dagster.store.layout import HomeLayout

    layout = HomeLayout.from_env(home)
    started = time.perf_counter()
    result = run_bootstrap(layout, SourcesRegistry.load(home_file=layout.sources_file))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "lines_read": sum(s.lines_read - s.header_lines for s in result.stages),
            "rows": result.load.rows, "step_seconds": result.seconds, "step_started": result.started,
            "ended": time.monotonic()}


def _phase_drain3(home: Path) -> dict:
    """Drain3 alone over the staged (masked) message contents, timing only `add_log_message`."""
    import pyarrow.parquet as pq
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()
    config.profiling_enabled = False
    miner = TemplateMiner(config=config)
    seconds, messages = 0.0, 0
    for file in sorted((home / "staging").rglob("*.parquet")):
        for batch in pq.ParquetFile(file).iter_batches(columns=["message"], batch_size=65_536):
            batch_messages = batch.column(0).to_pylist()
            started = time.perf_counter()
            for message in batch_messages:
                miner.add_log_message(message)
            seconds += time.perf_counter() - started
            messages += len(batch_messages)
    return {"seconds": seconds, "messages": messages}


def _phase_dagster(home: Path) -> dict:
    """`make run`'s path: register the landing files as partitions and run bootstrap_job over them."""
    from logpilot_dagster.jobs.runner import run_job
    from logpilot_dagster.store.layout import HomeLayout

    run = run_job(HomeLayout.from_env(home), "bootstrap")
    return {"returncode": run.returncode, "seconds": run.seconds}


def main(argv: Sequence[str]) -> int:
    phase, home = argv[0], Path(argv[1])
    answer = {"engine": _phase_engine, "drain3": _phase_drain3, "dagster": _phase_dagster}[phase](home)
    print(json.dumps(answer))
    return int(answer.get("returncode", 0))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


# --- `logpilot bench throughput` --------------------------------------------------------------------

DEFAULT_LOGHUB = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "loghub_2k"


def register(subparsers) -> None:
    cmd = subparsers.add_parser("throughput", help="bootstrap lines/s against Drain3 alone, and through Dagster")
    cmd.add_argument("--lines", type=int, default=200_000, help="corpus size in physical lines")
    cmd.add_argument("--seed", type=int, default=7)
    cmd.add_argument("--loghub", type=Path, default=DEFAULT_LOGHUB if DEFAULT_LOGHUB.is_dir() else None,
                     help="Loghub-style folder whose lines (variables re-drawn) make half the corpus")
    cmd.add_argument("--workdir", type=Path, help="keep the corpus and homes here (default: a temp folder)")
    cmd.add_argument("--no-dagster", action="store_true", help="skip the Dagster phase")
    cmd.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    cmd.set_defaults(func=_cli)


def _cli(args) -> int:
    if args.lines < 1_000:
        raise ValueError("--lines must be at least 1,000")
    try:
        result = run_throughput(args.lines, args.workdir, args.seed, args.loghub, not args.no_dagster)
    except RuntimeError as exc:  # a phase failed: its log tail says why, a traceback would not
        print(f"logpilot bench throughput: {exc}", file=sys.stderr)
        return 1
    rows = [("Drain3 add_log_message alone", result.drain3_lines_per_s, 1.0),
            ("LogPilot engine (landing → DuckDB)", result.engine_lines_per_s, result.engine_ratio)]
    if result.dagster_lines_per_s:
        rows.append(("through Dagster (make run path)", result.dagster_lines_per_s, result.dagster_ratio))
    print(f"\n{result.lines:,} lines")
    for name, rate, ratio in rows:
        print(f"  {name:<38}{rate:>12,.0f} lines/s   ratio {ratio:.2f}")
    print(f"  peak memory (engine, PSS of the tree) {result.peak_rss_mb:>10,.0f} MB")
    print(f"  DuckDB load from Parquet              {result.duckdb_rows_per_s:>10,.0f} rows/s")
    print(f"  engine steps (s): {result.engine_seconds}")
    if args.json:
        print(f"wrote {write_json_report(args.json, asdict(result))}")
    return 0
