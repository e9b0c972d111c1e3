"""The `logpilot` command. Each area registers its own subcommands; this file only assembles them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from logpilot_dagster import bootstrap_cli
from logpilot_dagster.bench import cli as bench_cli
from logpilot_dagster.classify import cli as classify_cli
from logpilot_dagster.pii import cli as pii_cli
from logpilot_dagster.samples import cli as samples_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="logpilot", description="LogPilot: raw logs into answers.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for area in (samples_cli, pii_cli, bootstrap_cli, bench_cli, classify_cli):
        area.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (OSError, ValueError) as exc:  # a user's mistake (missing file, bad config): no traceback
        print(f"logpilot {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
