"""`logpilot generate-sample`: write the sample landing zone, its ground truth and the system catalog."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from logpilot_dagster.store.layout import HOME_ENV, HomeLayout
from logpilot_dagster.terminal import busy


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate-sample", help="write a deterministic sample landing zone (seven sources, personal data, "
        "bad input) with its ground truth and system catalog")
    parser.add_argument("--out", type=Path,
                        help=f"landing folder to create, must be empty (default: the landing folder of "
                        f"${HOME_ENV} or ./.logpilot)")
    parser.add_argument("--lines", type=int, default=200_000, help="about how many lines (default 200,000)")
    parser.add_argument("--seed", type=int, default=7, help="the same seed gives byte-identical files")
    parser.add_argument("--days", type=int, default=420,
                        help="days of history, ending 2026-11-01 (default 420)")
    parser.add_argument("--truth", type=Path, help="ground-truth folder (default: OUT/../sample_truth)")
    parser.add_argument("--catalog", type=Path,
                        help="system catalog CSV (default: OUT/../system_catalog.csv)")
    parser.set_defaults(func=_generate)


def _generate(args: argparse.Namespace) -> int:
    from logpilot_dagster.samples.generator import MANIFEST_FILE, TRUTH_FILE, generate_sample

    out = args.out or HomeLayout.from_env().landing
    truth = args.truth or out.parent / "sample_truth"
    catalog = args.catalog or out.parent / "system_catalog.csv"
    started = time.perf_counter()
    with busy(f"generating {args.lines:,} lines"):
        manifest = generate_sample(out, lines=args.lines, seed=args.seed, truth_dir=truth, catalog_path=catalog,
                                   days=args.days)
    elapsed = time.perf_counter() - started
    bad = sum(manifest.bad_lines_by_reason.values())
    print(f"sample written to {out} in {elapsed:.1f}s (seed {manifest.seed})")
    print(f"  files        {manifest.files:>10,}   ({manifest.gzip_files:,} gzip)")
    print(f"  lines        {manifest.lines:>10,}   {manifest.start[:10]} .. {manifest.end[:10]}")
    print(f"  records      {manifest.records:>10,}")
    for source, n in manifest.records_by_source.items():
        print(f"    {source:<12}{n:>10,}")
    print(f"  personal data{manifest.pii_lines:>10,}   "
          f"({', '.join(f'{kind} {n:,}' for kind, n in manifest.pii_by_kind.items())})")
    print(f"  bad input    {bad:>10,}   "
          f"({', '.join(f'{reason} {n:,}' for reason, n in manifest.bad_lines_by_reason.items())})")
    print(f"  ground truth {truth / TRUTH_FILE}  (summary: {truth / MANIFEST_FILE})")
    print(f"  catalog      {catalog}")
    print(f"  runbooks     {out.parent / 'runbooks'}  (Markdown, for the runbook index and `logpilot ask`)")
    return 0
