"""`logpilot tier` and `logpilot purge`: the lifecycle moves and right-to-be-forgotten requests."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from logpilot_dagster.store.layout import HOME_ENV, HomeLayout
from logpilot_dagster.terminal import busy

TIER_EXAMPLES = """examples:
  logpilot tier                                   # rows older than 30 days to warm, warm older than 365 to cold
  logpilot tier --now 2026-06-01T00:00:00Z --json # as if it were that day (backfills, tests)
  LOGPILOT_COLD_URL=s3://archive/logpilot logpilot tier
"""
PURGE_EXAMPLES = """examples:
  logpilot purge --subject jdoe                   # every copy of the word jdoe, in every tier and cache
  logpilot purge --subject CUST-552418 --verify --json
  logpilot purge --subject jdoe --include-landing # also rewrite the landing files that mention it
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    tier = subparsers.add_parser("tier", help="move old rows hot → warm → cold", epilog=TIER_EXAMPLES,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    tier.add_argument("--home", help=f"LogPilot home (default ${HOME_ENV} or ./.logpilot)")
    tier.add_argument("--now", help="the clock, ISO 8601 (default: now)")
    tier.add_argument("--json", action="store_true", help="JSON on stdout")
    tier.set_defaults(func=_tier)
    purge = subparsers.add_parser("purge", help="remove every copy of a subject (right to be forgotten)",
                                  epilog=PURGE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    purge.add_argument("--home", help=f"LogPilot home (default ${HOME_ENV} or ./.logpilot)")
    purge.add_argument("--subject", required=True, help="a user name, customer id, e-mail, account (whole word)")
    purge.add_argument("--verify", action="store_true", help="prove nothing is left; exit 1 if something is")
    purge.add_argument("--include-landing", action="store_true",
                       help="also rewrite landing files that mention the subject (they are your input)")
    purge.add_argument("--json", action="store_true", help="JSON on stdout")
    purge.set_defaults(func=_purge)


def _parse_now(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--now {text!r} is not an ISO 8601 time such as 2026-06-01T00:00:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _tier(args: argparse.Namespace) -> int:
    from logpilot_dagster.lifecycle.tiering import TierSettings, tier

    layout = HomeLayout.from_env(args.home)
    if not layout.duckdb.exists():
        print(f"no warehouse at {layout.duckdb}: run `logpilot bootstrap` first", file=sys.stderr)
        return 2
    with busy("tiering"):
        result = tier(layout, _parse_now(args.now), TierSettings.from_env())
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return 0
    for line in result["warm"]["recovered"] + result["cold"]["recovered"]:
        print(line, file=sys.stderr)
    print(f"warm: {result['warm']['rows']:,} rows moved into {result['warm']['files']} files "
          f"({result['warm']['rows_per_second']:,} rows/s)")
    print(f"cold: {result['cold']['rows']:,} rows compacted into {result['cold']['files']} files")
    for name, tier_stats in result["tiers"].items():
        print(f"  {name:<5} {tier_stats['rows']:>12,} rows  {tier_stats['bytes'] / 1e6:>10,.1f} MB  "
              f"oldest {tier_stats['oldest'] or '-'}")
    return 0


def _purge(args: argparse.Namespace) -> int:
    from logpilot_dagster.lifecycle.purge import purge

    layout = HomeLayout.from_env(args.home)
    with busy("purging every copy of the subject"):
        report = purge(layout, args.subject, include_landing=args.include_landing, verify=args.verify)
    answer = {"request_id": report.request_id, "subject_hash": report.subject_hash,
              "lines_purged": report.lines_purged, "per_sink": report.per_sink,
              "landing_files_mentioning": report.landing_files, "landing_rewritten": report.landing_rewritten,
              "seconds": round(report.seconds, 2)}
    if args.verify:
        answer["left"] = report.left
        answer["verified"] = report.verified
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        touched = {k: v for k, v in report.per_sink.items() if v}
        print(f"purged {sum(touched.values()):,} copies in {len(touched)} sinks "
              f"({report.lines_purged:,} lines) in {report.seconds:.1f}s: "
              + (", ".join(f"{k} {v:,}" for k, v in touched.items()) or "nothing held the subject"))
        if report.landing_files and not report.landing_rewritten:
            print(f"{len(report.landing_files)} landing files mention it (your input; --include-landing "
                  "rewrites them): " + ", ".join(report.landing_files), file=sys.stderr)
        if args.verify:
            left = {k: v for k, v in report.left.items() if v}
            print("verified: nothing left" if not left else f"NOT CLEAN: {left}",
                  file=sys.stderr if not left else sys.stdout)
    return 0 if not args.verify or report.verified else 1
