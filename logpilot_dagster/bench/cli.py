"""`logpilot bench ...`: the benchmark harnesses.

Each harness is one entry of `SUBCOMMANDS`: a function that adds its own sub-parser to the `bench`
sub-parsers and sets `func`. A new harness (e.g. `throughput`) appends itself there.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from logpilot_dagster.bench.report import write_json_report

SubRegistration = Callable[[argparse._SubParsersAction], None]


def _register_loghub(subparsers: argparse._SubParsersAction) -> None:
    loghub = subparsers.add_parser(
        "loghub", help="template-mining accuracy (GA, PA, FGA, FTA) on Loghub-style labelled datasets")
    loghub.add_argument("--data", required=True, type=Path,
                        help="folder with formats.json and one subfolder per dataset")
    loghub.add_argument("--datasets", help="comma-separated dataset names (default: all of formats.json)")
    loghub.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    loghub.set_defaults(func=_loghub)


def _loghub(args: argparse.Namespace) -> int:
    from logpilot_dagster.bench.loghub import format_table, run

    names = [name.strip() for name in args.datasets.split(",") if name.strip()] if args.datasets else None
    report = run(args.data, names)
    print(format_table(report))
    if args.json:
        print(f"wrote {write_json_report(args.json, report)}")
    return 0


def _register_throughput(subparsers: argparse._SubParsersAction) -> None:
    from logpilot_dagster.bench.throughput import register

    register(subparsers)


def _register_live(subparsers: argparse._SubParsersAction) -> None:
    from logpilot_dagster.bench.live import register

    register(subparsers)


def _register_sources(subparsers: argparse._SubParsersAction) -> None:
    from logpilot_dagster.bench.sources_inference import register

    register(subparsers)


# Harnesses under `logpilot bench`; append a registration function to add one.
SUBCOMMANDS: list[SubRegistration] = [_register_loghub, _register_throughput, _register_live, _register_sources]


def register(subparsers: argparse._SubParsersAction) -> None:
    bench = subparsers.add_parser("bench", help="run a benchmark harness")
    harnesses = bench.add_subparsers(dest="bench_command", required=True, metavar="HARNESS")
    for add in SUBCOMMANDS:
        add(harnesses)
