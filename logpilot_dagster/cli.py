"""The `logpilot` command. Each area registers its own subcommands; this file only assembles them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from logpilot_dagster.ask import cli as ask_cli
from logpilot_dagster.bench import cli as bench_cli
from logpilot_dagster.bootstrap import cli as bootstrap_cli
from logpilot_dagster.classify import cli as classify_cli
from logpilot_dagster.lifecycle import cli as lifecycle_cli
from logpilot_dagster.live import cli as live_cli
from logpilot_dagster.pii import cli as pii_cli
from logpilot_dagster.samples import cli as samples_cli
from logpilot_dagster.store.locks import Busy

EXAMPLES = """examples:
  logpilot bootstrap                                  # load the landing folder (a sample on first use)
  logpilot summary --json
  logpilot classify --input logs.csv --output labelled.csv
  cat logs.csv | logpilot classify --input - --output - > labelled.csv
  logpilot mask < raw.log > masked.log
  logpilot ask "how many errors per source in March 2026?"
  logpilot search "the kernel killed a process because memory ran out"

`logpilot COMMAND --help` shows each command's options and examples."""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("logpilot")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="logpilot", description="LogPilot: raw logs into answers.",
                                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"logpilot {_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for area in (samples_cli, pii_cli, bootstrap_cli, bench_cli, classify_cli, ask_cli, lifecycle_cli, live_cli):
        area.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (OSError, ValueError, Busy) as exc:  # a user's mistake, or another process holding a lock
        print(f"logpilot {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
