"""`logpilot bootstrap` and `logpilot summary`: run the history bootstrap through Dagster, then report.

The runs go through `execute_job` on the persistent Dagster instance (`jobs/launch.py`), the same code path a
launch from the web UI takes, so `make ui` afterwards shows the runs and the materialized assets.
"""

from __future__ import annotations

import argparse
import json
import sys

from logpilot_dagster.jobs.runner import NOTHING_NEW, JobRun, run_job
from logpilot_dagster.store.layout import HOME_ENV, HomeLayout

EXAMPLES = """examples:
  logpilot bootstrap                      # sample data on first use, then only the files not yet loaded
  logpilot bootstrap --home /data/lp --no-classify
  logpilot summary --json | jq .conservation
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser(
        "bootstrap", help="load the landing files not yet loaded (generating a sample into an empty landing "
        "folder) through Dagster, label templates, print a summary",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--home", help=f"LogPilot home (default ${HOME_ENV} or ./.logpilot)")
    run.add_argument("--sample-lines", type=int, default=200_000, help="lines of the generated sample")
    run.add_argument("--seed", type=int, default=7)
    run.add_argument("--no-classify", action="store_true",
                     help="skip classification_job (labels every template after the bootstrap)")
    run.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    run.set_defaults(func=_bootstrap)
    summary = subparsers.add_parser("summary", help="print what the warehouse holds", epilog=EXAMPLES,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
    summary.add_argument("--home", help=f"LogPilot home (default ${HOME_ENV} or ./.logpilot)")
    summary.add_argument("--json", action="store_true", help="JSON on stdout")
    summary.set_defaults(func=_summary)


def _bootstrap(args: argparse.Namespace) -> int:
    layout = HomeLayout.from_env(args.home).ensure()
    if not layout.landing_keys():
        from logpilot_dagster.samples.generator import generate_sample

        print(f"landing folder {layout.landing} is empty: generating a {args.sample_lines:,}-line sample",
              file=sys.stderr)
        generate_sample(layout.landing, lines=args.sample_lines, seed=args.seed,
                        truth_dir=layout.sample_truth, catalog_path=layout.system_catalog_csv)
    run = run_job(layout, "bootstrap")
    if run.returncode == NOTHING_NEW:
        return _print_summary(layout, as_json=args.json)
    if run.returncode != 0:
        print("bootstrap_job failed; see the log above, or the run in `make ui`", file=sys.stderr)
        return 1
    classified = None
    if not args.no_classify:
        classified = run_job(layout, "classification_job")
        if classified.returncode != 0:
            print("classification_job failed; see the log above, or the run in `make ui`", file=sys.stderr)
            return 1
        # After labelling, so each template's vector carries its label; search and `ask` read this index.
        if run_job(layout, "vectors_job").returncode != 0:
            print("vectors_job failed; see the log above, or the run in `make ui`", file=sys.stderr)
            return 1
    return _print_summary(layout, bootstrap=run, classification=classified, as_json=args.json)


def _summary(args: argparse.Namespace) -> int:
    return _print_summary(HomeLayout.from_env(args.home), as_json=args.json)


def warehouse_summary(layout: HomeLayout) -> dict:
    from logpilot_dagster.store import tables

    with tables.connect(layout.duckdb, read_only=True) as con:
        totals = tables.conservation(con)
        return {
            "warehouse": str(layout.duckdb),
            "conservation": {**totals, "holds": tables.conserved(totals)},
            "rows_by_source": tables.rows_by_source(con),
            "quarantine_lines_by_reason": tables.quarantine_by_reason(con),
            "quarantine_entries_by_reason": tables.quarantine_entries_by_reason(con),
            "templates": tables.table_row_count(con, "templates"),
            "lines_by_label": dict(tables.lines_by_label(con)),
            "lines_by_tier": dict(tables.lines_by_tier(con)),
        }


def _print_summary(layout: HomeLayout, bootstrap: JobRun | None = None, classification: JobRun | None = None,
                   as_json: bool = False) -> int:
    if not layout.duckdb.exists():
        print(f"no warehouse at {layout.duckdb}: run `make run` (or `logpilot bootstrap`) first", file=sys.stderr)
        return 2
    summary = warehouse_summary(layout)
    for name, run in (("bootstrap_job", bootstrap), ("classification_job", classification)):
        if run:
            summary.setdefault("runs", {})[name] = {"seconds": round(run.seconds, 1),
                                                     "peak_rss_mb": round(run.peak_rss_mb)}
    holds = summary["conservation"]["holds"]
    if as_json:
        print(json.dumps(summary, indent=2))
        return 0 if holds else 1
    totals = summary["conservation"]
    per_source = summary["rows_by_source"]
    print("\nLogPilot bootstrap summary")
    print(f"  lines read          {totals['lines_read']:>12,}")
    print(f"  rows loaded (logs)  {sum(per_source.values()):>12,}   ({totals['lines_stored']:,} physical lines)")
    print(f"  lines quarantined   {totals['lines_quarantined']:>12,}")
    for reason, n in summary["quarantine_entries_by_reason"].items():
        print(f"    {reason:<18}{summary['quarantine_lines_by_reason'].get(reason, 0):>12,}   ({n:,} entries)")
    print(f"  conservation        {'holds' if holds else 'BROKEN'}")
    print(f"  templates           {summary['templates']:>12,}")
    print(f"  sources             {len(per_source):>12,}   ({', '.join(per_source)})")
    tiers = summary["lines_by_tier"]
    if any(tier != "none" for tier in tiers):
        print("  labels (lines)")
        for label, n in summary["lines_by_label"].items():
            print(f"    {label:<22}{n:>10,}")
        print("  deciding tier       " + ", ".join(f"{tier} {n:,}" for tier, n in tiers.items()))
    if bootstrap:
        read = totals["lines_read"]
        print(f"  bootstrap_job       {bootstrap.seconds:>11.1f}s   ({read / bootstrap.seconds:,.0f} lines/s "
              f"through Dagster, start-up included; peak RSS {bootstrap.peak_rss_mb:,.0f} MB)")
    if classification:
        print(f"  classification_job  {classification.seconds:>11.1f}s   (peak RSS {classification.peak_rss_mb:,.0f} MB)")
    print(f"  DuckDB              {layout.duckdb}")
    print("\nNext: `make ui` opens the Dagster UI on http://127.0.0.1:3000 with these runs and their assets.")
    return 0 if holds else 1
