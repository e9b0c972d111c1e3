"""`logpilot live` (ingest the stream from the bootstrap watermark) and `logpilot produce` (sample records)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from logpilot_dagster.live.settings import KAFKA_BOOTSTRAP_ENV, KAFKA_TOPIC_ENV, KINDS, STREAM_ENV
from logpilot_dagster.store.layout import HOME_ENV, HomeLayout

LIVE_EXAMPLES = f"""examples:
  logpilot live --once --json                       # catch up from the committed positions, print counts
  logpilot live                                     # keep up until Ctrl-C (or SIGTERM)
  logpilot live --stream kafka --bootstrap-servers 127.0.0.1:9092 --topic logpilot-logs --once

The stream is ${STREAM_ENV} (folder|kafka, default folder: $LOGPILOT_HOME/live/*.jsonl); Kafka reads
${KAFKA_BOOTSTRAP_ENV} and ${KAFKA_TOPIC_ENV} (default logpilot-logs). Live starts after the bootstrap's T1.
"""
PRODUCE_EXAMPLES = """examples:
  logpilot produce --to folder --lines 1000                 # 1,000 sample records, stamped now
  logpilot produce --to folder --lines 600 --rate 10        # 10 records a second for a minute
  logpilot produce --to kafka --bootstrap-servers 127.0.0.1:9092 --lines 5000 --json
"""


SOURCES_EXAMPLES = """examples:
  logpilot sources                          # the registered sources, and landing files none of them matches
  logpilot sources --proposed               # infer entries for those files, show them with their evidence
  logpilot sources --accept legacy_crm      # move a proposal into sources.toml and ingest its files
  LOGPILOT_AUTO_ACCEPT_SOURCES=1 logpilot sources --proposed --json
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    live = subparsers.add_parser("live", help="ingest the live stream after the bootstrap watermark, exactly once",
                                 epilog=LIVE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _stream_options(live)
    live.add_argument("--once", action="store_true", help="stop once caught up (default: keep up until stopped)")
    live.add_argument("--batch-records", type=int, help="records per batch (default 50,000)")
    live.add_argument("--interval", type=float, default=1.0, help="seconds between passes when idle")
    live.add_argument("--no-label", action="store_true",
                      help="do not label new templates (rules → model → LLM) nor add them to the vector index")
    live.add_argument("--json", action="store_true", help="print the counts as JSON on stdout")
    live.set_defaults(func=_live)
    produce = subparsers.add_parser("produce", help="append sample records to the live stream",
                                    epilog=PRODUCE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _stream_options(produce, flag="--to")
    produce.add_argument("--lines", type=int, default=1000, help="records to append")
    produce.add_argument("--rate", type=float, help="records per second (default: as fast as possible)")
    produce.add_argument("--start", help="timestamp of the first record, ISO-8601 with offset (default: now)")
    produce.add_argument("--step-ms", type=float, default=1.0,
                         help="milliseconds between records' timestamps (ignored with --rate: stamped when sent)")
    produce.add_argument("--file", help="folder stream file name (default stream.jsonl)")
    produce.add_argument("--seed", type=int, default=7)
    produce.add_argument("--json", action="store_true", help="print what was appended as JSON on stdout")
    produce.set_defaults(func=_produce)
    sources = subparsers.add_parser("sources", help="the sources registry, and entries inferred for unmatched files",
                                    epilog=SOURCES_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sources.add_argument("--home", help=f"LogPilot home (default ${HOME_ENV} or ./.logpilot)")
    which = sources.add_mutually_exclusive_group()
    which.add_argument("--proposed", action="store_true",
                       help="infer entries for landing files no source matches (registry/proposed_sources.toml)")
    which.add_argument("--accept", metavar="NAME", help="move the proposal NAME into the sources registry and "
                       "ingest the files it matches")
    sources.add_argument("--json", action="store_true", help="JSON on stdout")
    sources.set_defaults(func=_sources)


def _stream_options(parser: argparse.ArgumentParser, flag: str = "--stream") -> None:
    parser.add_argument("--home", help=f"LogPilot home (default ${HOME_ENV} or ./.logpilot)")
    parser.add_argument(flag, dest="stream", choices=KINDS, help=f"the stream (default ${STREAM_ENV} or folder)")
    parser.add_argument("--bootstrap-servers", help=f"Kafka HOST:PORT (default ${KAFKA_BOOTSTRAP_ENV})")
    parser.add_argument("--topic", help=f"Kafka topic (default ${KAFKA_TOPIC_ENV} or logpilot-logs)")


def _settings(args: argparse.Namespace):
    from logpilot_dagster.live.settings import StreamSettings

    return StreamSettings.from_env(kind=args.stream, bootstrap_servers=args.bootstrap_servers, topic=args.topic,
                                   batch_records=getattr(args, "batch_records", None))


def _live(args: argparse.Namespace) -> int:
    from logpilot_dagster.live.workers import BatchWorkers
    from logpilot_dagster.store.locks import is_held

    layout = HomeLayout.from_env(args.home)
    settings = _settings(args)
    workers = BatchWorkers(layout)
    if layout.duckdb.exists() and not is_held(layout.live_lock):
        # Started before the imports below: the fork server imports the matching code and the workers load
        # the miner meanwhile, so the first batch finds them ready (about a second sooner). Not when this
        # command is about to refuse (no warehouse) or wait (another live writer runs).
        workers.start()
    try:
        return _run_live(args, layout, settings, workers)
    finally:
        workers.close()


def _run_live(args: argparse.Namespace, layout: HomeLayout, settings, workers) -> int:  # noqa: ANN001
    from logpilot_dagster.live.engine import LiveEngine, NoWatermark
    from logpilot_dagster.live.settings import open_stream
    from logpilot_dagster.store.locks import Busy

    labeller = indexer = None
    if not args.no_label:  # the classifiers and the vector index are heavy imports
        from logpilot_dagster.live.labelling import TemplateIndexer, TemplateLabeller

        labeller, indexer = TemplateLabeller(), TemplateIndexer()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        with open_stream(layout, settings) as stream, LiveEngine(
                layout, stream, batch_records=settings.batch_records, batch_bytes=settings.batch_bytes,
                labeller=labeller, on_new_templates=_schema_discovery(), indexer=indexer, llm_client=_llm_client(),
                workers=workers) as engine:
            # No watermark: both stop with the reason. A warehouse held for longer than a batch waits (a bootstrap
            # load) stops `--once`; the continuous writer waits it out (`run_forever`).
            counts = engine.run_once(stop) if args.once else engine.run_forever(stop, args.interval)
    except (NoWatermark, Busy) as exc:
        print(f"logpilot live: {exc}", file=sys.stderr)
        return 2
    summary = counts.to_dict() | {"stream": stream.key}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"read {counts.records_read:,} records in {counts.batches} batches ({counts.seconds:.1f}s): "
              f"{counts.rows_stored:,} stored, {counts.skipped_before_t1:,} at/before T1 (bootstrap has them), "
              f"{counts.duplicates_skipped:,} duplicates skipped, {counts.quarantined:,} quarantined, "
              f"{counts.new_templates:,} new templates", file=sys.stderr)
    return 0 if counts.conserved else 1


def _llm_client():
    from logpilot_dagster.llm.client import LLMClient, LLMConfig

    return LLMClient(LLMConfig.from_env())


def _schema_discovery():
    """Patterns for new templates; the LLM (from the environment) only where the template's own fails."""
    from logpilot_dagster.live.schema_discovery import discover_new_templates
    from logpilot_dagster.llm.client import LLMClient, LLMConfig

    client = None

    def hook(layout, new, samples, known, before_save=None):
        nonlocal client
        client = client or LLMClient(LLMConfig.from_env())
        return discover_new_templates(layout, new, samples, known, client, before_save)

    return hook


def _produce(args: argparse.Namespace) -> int:
    from logpilot_dagster.live.produce import sample_records
    from logpilot_dagster.live.settings import open_stream

    if args.lines < 0 or (args.rate is not None and args.rate <= 0):
        raise ValueError("--lines must be ≥ 0 and --rate > 0")
    layout = HomeLayout.from_env(args.home)
    settings = _settings(args)
    start = datetime.fromisoformat(args.start) if args.start else None
    if start is not None and start.tzinfo is None:
        raise ValueError(f"--start {args.start!r} needs an offset (e.g. +00:00)")
    sent = 0
    first = last = None
    with open_stream(layout, settings) as stream:
        if args.rate is None:
            records = list(sample_records(args.lines, args.seed, start, timedelta(milliseconds=args.step_ms)))
            sent = stream.append(records, args.file)
            if records:
                first, last = records[0]["ts"], records[-1]["ts"]
        else:
            began = time.monotonic()
            records_iter = sample_records(args.lines, args.seed, start)
            while sent < args.lines:
                due = min(args.lines, int((time.monotonic() - began) * args.rate) + 1)
                chunk = []
                for record in records_iter:
                    record["ts"] = datetime.now(UTC).isoformat(timespec="milliseconds") if start is None \
                        else record["ts"]
                    chunk.append(record)
                    if sent + len(chunk) >= due:
                        break
                sent += stream.append(chunk, args.file) if chunk else 0
                if chunk:
                    first, last = first or chunk[0]["ts"], chunk[-1]["ts"]
                time.sleep(max(0.0, began + sent / args.rate - time.monotonic()))
    where = str(layout.live) if settings.kind == "folder" else f"{settings.bootstrap_servers}/{settings.topic}"
    if args.json:
        print(json.dumps({"records": sent, "stream": settings.kind, "to": where, "first_ts": first, "last_ts": last}))
    else:
        print(f"appended {sent:,} records to {where} ({first} .. {last})", file=sys.stderr)
    return 0


def _sources(args: argparse.Namespace) -> int:
    import os

    from logpilot_dagster.ingest import discovery
    from logpilot_dagster.ingest.sources import SOURCES_ENV, SourcesRegistry

    layout = HomeLayout.from_env(args.home)
    sources_file = Path(os.environ[SOURCES_ENV]) if os.environ.get(SOURCES_ENV) else layout.sources_file
    registry = SourcesRegistry.load(home_file=layout.sources_file)
    keys = layout.landing_keys()
    if args.accept:
        accepted = [discovery.accept(layout.proposed_sources, sources_file, args.accept)]
        return _ingest_accepted(layout, accepted, sources_file, args.json)
    if args.proposed:
        from logpilot_dagster.llm.client import LLMClient, LLMConfig

        proposals, rejected = discovery.propose(layout.landing, keys, registry, LLMClient(LLMConfig.from_env()))
        # Landing proposals are made afresh; those inferred from live records are kept.
        discovery.merge_proposals(layout.proposed_sources, proposals, keep=discovery.from_live_records)
        chosen = [p for p in proposals if discovery.auto_accepts(p)]
        if chosen:
            accepted = [discovery.accept(layout.proposed_sources, sources_file, p.name) for p in chosen]
            return _ingest_accepted(layout, accepted, sources_file, args.json)
        if args.json:
            print(json.dumps({"proposed": [vars(p) for p in proposals], "not_proposed": [vars(r) for r in rejected],
                              "file": str(layout.proposed_sources)}, indent=2, default=str))
        else:
            for p in proposals:
                print(p.entry_toml())
            for r in rejected:
                print(f"no proposal for {r.name} ({len(r.files)} files): {r.reason}", file=sys.stderr)
            print(f"{len(proposals)} proposals in {layout.proposed_sources}; accept one with "
                  "`logpilot sources --accept NAME`", file=sys.stderr)
        return 0
    unmatched = discovery.unmatched_groups(layout.landing, keys, registry)
    listing = {"sources": [{"name": s.name, "path": s.path} for s in registry.sources],
               "unmatched_files": {name: files for name, files in unmatched.items()}}
    if args.json:
        print(json.dumps(listing, indent=2))
    else:
        for s in registry.sources:
            print(f"{s.name:<20} {s.path}")
        for name, files in unmatched.items():
            print(f"unmatched: {name} ({len(files)} files) — `logpilot sources --proposed` infers an entry",
                  file=sys.stderr)
    return 0


def _ingest_accepted(layout: HomeLayout, accepted: list, sources_file: Path, as_json: bool) -> int:
    """Load the files the accepted entries match again (stage, mine, parse, load: their quarantined
    `no_source` lines become rows in the same transaction that removes them from the quarantine)."""
    from logpilot_dagster.bootstrap.steps import run_bootstrap
    from logpilot_dagster.ingest.sources import SourcesRegistry

    registry = SourcesRegistry.load(home_file=sources_file)
    names = {p.name for p in accepted}
    keys = [k for k in layout.landing_keys() if (s := registry.source_for(k)) is not None and s.name in names]
    if keys and layout.mined_ledger.is_file():
        # The miner's ledger holds these files with 0 messages (they had no source): forget them so their
        # lines are learned now, instead of all matching "not learned yet".
        ledger = json.loads(layout.mined_ledger.read_text(encoding="utf-8"))
        layout.mined_ledger.write_text(json.dumps({k: v for k, v in ledger.items()
                                                   if k not in keys or v}, indent=0, sort_keys=True))
    result = run_bootstrap(layout, registry, keys=keys) if keys else None
    summary = {"accepted": sorted(names), "registry": str(sources_file), "files_ingested": len(keys),
               "rows": result.load.rows if result else 0, "quarantined": result.load.quarantined if result else 0}
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"accepted {', '.join(sorted(names))} into {sources_file}; ingested {len(keys)} files: "
              f"{summary['rows']:,} rows, {summary['quarantined']:,} quarantine entries", file=sys.stderr)
    return 0
