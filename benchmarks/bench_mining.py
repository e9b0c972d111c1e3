"""Throughput of LogPilot's template miner against raw Drain3, over the same re-drawn Loghub corpus.

    .venv/bin/python benchmarks/bench_mining.py [--lines 500000] [--data ../shared/data/loghub_2k] [--seed 7]

The corpus is the throughput benchmark's Loghub part: every structured Loghub-2k line, its parameters'
digits and hex letters re-drawn at random (`logpilot_dagster.bench.corpus`), so most lines repeat a known
event with new values and few repeat verbatim. All lines are one source, as the bootstrap stages them.

Timed in this one process, over the same messages:
1. raw Drain3: `TemplateMiner.add_log_message` per line, explicit default `TemplateMinerConfig()`;
2. LogPilot: `LogMiner.learn` over the whole corpus, then `LogMiner.match` over it (the bootstrap's two
   mining steps: learn in one process, then match in the parse workers), and `match` again with a copy
   saved and loaded, whose caches start empty as in a parse worker.

Figures are lines per second and the speed relative to raw Drain3 (above 1x: faster than Drain3).
"""

from __future__ import annotations

import argparse
import gc
import random
import tempfile
import time
from pathlib import Path

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

from logpilot_dagster.bench.corpus import _loghub_events, _redraw
from logpilot_dagster.mining import LogMiner

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "loghub_2k"
SOURCE = "loghub"


def build_messages(data: Path, lines: int, seed: int) -> list[str]:
    """`lines` Loghub contents, drawn at random, each with its variables re-drawn (one physical line each)."""
    events = _loghub_events(data)
    if not events:
        raise SystemExit(f"{data}: no *_structured*.csv found")
    rng = random.Random(seed)
    messages = []
    for _ in range(lines):
        _, content, spans = events[rng.randrange(len(events))]
        messages.append(_redraw(content, spans, rng).replace("\n", " ").replace("\r", " "))
    return messages


def time_drain3(messages: list[str]) -> float:
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    miner = TemplateMiner(config=config)
    add = miner.add_log_message
    started = time.perf_counter()
    for message in messages:
        add(message)
    return time.perf_counter() - started


def time_logminer(messages: list[str]) -> tuple[float, float, float, int]:
    """Seconds to learn, to match with the learning miner, and to match with a freshly loaded copy."""
    miner = LogMiner()
    started = time.perf_counter()
    miner.learn(SOURCE, messages)
    learned = time.perf_counter()
    matches = miner.match(SOURCE, messages)
    matched = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        miner.save(Path(folder))
        loaded = LogMiner.load(Path(folder))
    gc.collect()
    started_fresh = time.perf_counter()
    fresh = loaded.match(SOURCE, messages)
    fresh_s = time.perf_counter() - started_fresh
    if [m.template_id for m in fresh] != [m.template_id for m in matches]:
        raise SystemExit("a loaded miner matched differently from the one that learned")
    return learned - started, matched - learned, fresh_s, len({m.template_id for m in matches})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=500_000)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    started = time.perf_counter()
    messages = build_messages(args.data, args.lines, args.seed)
    print(f"corpus: {len(messages):,} lines, {len(set(messages)):,} distinct "
          f"(built in {time.perf_counter() - started:.1f}s)")
    n = len(messages)
    gc.collect()
    drain3_s = time_drain3(messages)
    gc.collect()
    learn_s, match_s, fresh_s, templates = time_logminer(messages)
    both_s, both_fresh_s = learn_s + match_s, learn_s + fresh_s
    rows = [("raw Drain3 add_log_message", drain3_s),
            ("LogMiner.learn", learn_s),
            ("LogMiner.match", match_s),
            ("LogMiner.match, loaded copy", fresh_s),
            ("learn + match", both_s),
            ("learn + match, loaded copy", both_fresh_s)]
    for name, seconds in rows:
        print(f"{name:<28} {n / seconds:>10,.0f} lines/s  {seconds:7.2f}s  {drain3_s / seconds:6.2f}x Drain3")
    print(f"{templates} template ids")


if __name__ == "__main__":
    main()
