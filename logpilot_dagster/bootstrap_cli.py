"""`logpilot bootstrap` and `logpilot summary`: run the history bootstrap through Dagster, then report.

The run goes through `execute_job` on the persistent Dagster instance (`jobs/launch.py`), the same code path a
launch from the web UI takes, so `make ui` afterwards shows the run and the materialized assets.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from logpilot_dagster.bench.memory import TreeMemorySampler
from logpilot_dagster.pipeline import landing_files
from logpilot_dagster.settings import HOME_ENV, HomeLayout
from logpilot_dagster.warehouse.load import conservation
from logpilot_dagster.warehouse.queries import (
    quarantine_by_reason,
    quarantine_entries_by_reason,
    rows_by_source,
)

DAGSTER_YAML = Path(__file__).resolve().parent.parent / "dagster.yaml"


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser("bootstrap", help="generate a sample if the landing folder is empty, run the "
                                "bootstrap through Dagster and print a summary")
    run.add_argument("--home", help=f"LogPilot home (default ${HOME_ENV} or ./.logpilot)")
    run.add_argument("--sample-lines", type=int, default=200_000, help="lines of the generated sample")
    run.add_argument("--seed", type=int, default=7)
    run.add_argument("--no-classify", action="store_true",
                     help="skip classification_job (labels every template after the bootstrap)")
    run.set_defaults(func=_bootstrap)
    summary = subparsers.add_parser("summary", help="print what the warehouse holds")
    summary.add_argument("--home")
    summary.set_defaults(func=_summary)


def _bootstrap(args: argparse.Namespace) -> int:
    layout = HomeLayout.from_env(args.home).ensure()
    os.environ[HOME_ENV] = str(layout.home)
    if not landing_files(layout.landing):
        from logpilot_dagster.samples.generator import generate_sample

        print(f"landing folder {layout.landing} is empty: generating a {args.sample_lines:,}-line sample")
        generate_sample(layout.landing, lines=args.sample_lines, seed=args.seed,
                        truth_dir=layout.sample_truth, catalog_path=layout.system_catalog_csv)
    run = run_bootstrap_job(layout.home)
    if run.returncode != 0:
        print("bootstrap_job failed; see the log above, or the run in `make ui`", file=sys.stderr)
        return 1
    classified = None
    if not args.no_classify:
        classified = run_job("classification_job")
        if classified.returncode != 0:
            print("classification_job failed; see the log above, or the run in `make ui`", file=sys.stderr)
            return 1
    return _print_summary(layout, bootstrap=run, classification=classified)


@dataclass(frozen=True)
class JobRun:
    returncode: int
    seconds: float
    peak_rss_mb: float  # the whole process tree: dagster, its step process and the pool workers


def run_bootstrap_job(home: Path) -> JobRun:
    """Register every landing file as a partition and run `bootstrap_job` over the whole range on the persistent
    instance (`jobs/launch.py`): the same code path as a launch from the UI."""
    layout = HomeLayout.from_env(home)
    os.environ[HOME_ENV] = str(layout.home)
    instance_home = _dagster_home()
    keys = landing_files(layout.landing)
    if not keys:
        print(f"nothing to bootstrap: {layout.landing} is empty", file=sys.stderr)
        return JobRun(1, 0.0, 0.0)
    from logpilot_dagster.jobs.sensors import RANGE_END_TAG, RANGE_START_TAG  # imports Dagster: only here

    started = time.perf_counter()
    _register_partitions(keys)
    print(f"running bootstrap_job over {len(keys)} landing files (DAGSTER_HOME={instance_home})")
    return run_job("bootstrap_job", {RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]}, started)


def run_job(name: str, tags: dict[str, str] | None = None, started: float | None = None) -> JobRun:
    """One job of the Definitions on the persistent instance, in a child process whose tree we measure."""
    started = time.perf_counter() if started is None else started
    job = subprocess.Popen([sys.executable, "-m", "logpilot_dagster.jobs.launch", name,
                            "--tags", json.dumps(tags or {})], env=os.environ.copy())
    with TreeMemorySampler(job.pid) as sampler:
        returncode = job.wait()
    return JobRun(returncode, time.perf_counter() - started, sampler.peak_mb)


def _summary(args: argparse.Namespace) -> int:
    return _print_summary(HomeLayout.from_env(args.home))


def _dagster_home() -> Path:
    """The persistent Dagster instance: $DAGSTER_HOME, else ./.dagster_home with our dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists() and DAGSTER_YAML.exists():
        (home / "dagster.yaml").write_text(DAGSTER_YAML.read_text())
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _register_partitions(keys: list[str]) -> None:
    from dagster import DagsterInstance

    from logpilot_dagster.jobs.partitions import landing_files_partitions

    with DagsterInstance.get() as instance:
        known = set(instance.get_dynamic_partitions(landing_files_partitions.name))
        new = [k for k in keys if k not in known]
        if new:
            instance.add_dynamic_partitions(landing_files_partitions.name, new)


def _print_summary(layout: HomeLayout, bootstrap: JobRun | None = None, classification: JobRun | None = None) -> int:
    if not layout.duckdb.exists():
        print(f"no warehouse at {layout.duckdb}: run `make run` (or `logpilot bootstrap`) first", file=sys.stderr)
        return 2
    with duckdb.connect(str(layout.duckdb), read_only=True) as con:
        totals = conservation(con)
        per_source = rows_by_source(con)
        reasons = quarantine_by_reason(con)
        entries = quarantine_entries_by_reason(con)
        n_templates, = con.execute("SELECT count(*) FROM templates").fetchone()
        labels = con.execute("SELECT label, count(*) FROM logs_labelled GROUP BY ALL ORDER BY 2 DESC").fetchall()
        tiers = con.execute("SELECT coalesce(label_tier, 'none'), count(*) FROM logs_labelled GROUP BY ALL "
                            "ORDER BY 2 DESC").fetchall()
    rows = sum(per_source.values())
    balanced = totals["lines_read"] == totals["lines_stored"] + totals["lines_quarantined"]
    print("\nLogPilot bootstrap summary")
    print(f"  lines read          {totals['lines_read']:>12,}")
    print(f"  rows loaded (logs)  {rows:>12,}   ({totals['lines_stored']:,} physical lines)")
    print(f"  lines quarantined   {totals['lines_quarantined']:>12,}")
    for reason, n in entries.items():
        print(f"    {reason:<18}{reasons.get(reason, 0):>12,}   ({n:,} entries)")
    print(f"  conservation        {'holds' if balanced else 'BROKEN'}")
    print(f"  templates           {n_templates:>12,}")
    print(f"  sources             {len(per_source):>12,}   ({', '.join(per_source)})")
    if any(tier != "none" for tier, _ in tiers):
        print("  labels (lines)")
        for label, n in labels:
            print(f"    {label:<22}{n:>10,}")
        print("  deciding tier       " + ", ".join(f"{tier} {n:,}" for tier, n in tiers))
    if bootstrap:
        read = totals["lines_read"]
        print(f"  bootstrap_job       {bootstrap.seconds:>11.1f}s   ({read / bootstrap.seconds:,.0f} lines/s "
              f"through Dagster, start-up included; peak RSS {bootstrap.peak_rss_mb:,.0f} MB)")
    if classification:
        print(f"  classification_job  {classification.seconds:>11.1f}s   (peak RSS {classification.peak_rss_mb:,.0f} MB)")
    print(f"  DuckDB              {layout.duckdb}")
    print("\nNext: `make ui` opens the Dagster UI on http://127.0.0.1:3000 with this run and its assets.")
    return 0 if balanced else 1
