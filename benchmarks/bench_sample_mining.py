"""Mining accuracy and memory on LogPilot's own sample data, against the generator's ground truth.

    .venv/bin/logpilot generate-sample --out /tmp/mine_sample/landing --lines 200000 --seed 7
    .venv/bin/python benchmarks/bench_sample_mining.py --home /tmp/mine_sample [--memory 200000,1000000,2000000]

The sample's landing files are staged into `--home` (once; staging is skipped when Parquet files are already
there), then every source's staged messages are learned by one `LogMiner` and matched, as the bootstrap
does. Each staged record is joined to its true template through (partition_key, line_no) = (file, line) of
`sample_truth/ground_truth.csv.gz`; records without a truth row (bad input that still staged) are left out.
Printed per source: GA / PA / FGA / FTA (`logpilot_dagster.bench.metrics`) and templates found vs. truth.

`--memory` also measures the miner's footprint as input grows: the staged messages are repeated to each size,
with every run of digits re-drawn at random (a sample-like corpus whose values keep changing), learned in
batches of 250,000 as `mine_partitions` does, in a process of its own; printed per size: the RSS the learned
miner adds, the saved state's size, and, in a fresh process that loads the state and matches 200,000 of the
lines (a parse worker), the RSS the loaded miner adds, that plus matching's caches, and the process's peak.
"""

from __future__ import annotations

import argparse
import csv
import gc
import gzip
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq

from logpilot_dagster.bench.memory import process_memory_mb
from logpilot_dagster.bench.metrics import accuracy
from logpilot_dagster.mining import LogMiner

LEARN_BATCH = 250_000


def stage(home: Path) -> None:
    from logpilot_dagster.bootstrap.steps import stage as stage_partitions
    from logpilot_dagster.ingest.sources import SourcesRegistry
    from logpilot_dagster.store.layout import HomeLayout

    layout = HomeLayout(home)
    if layout.staging.is_dir() and any(layout.staging.rglob("*.parquet")):
        return
    layout.ensure()
    registry = SourcesRegistry.load(home_file=layout.sources_file)
    stage_partitions(layout, registry, layout.landing_keys())


def read_staged(home: Path) -> dict[str, list[tuple[str, int, str]]]:
    """source -> [(partition_key, line_no, message)] in file and line order."""
    by_source: dict[str, list[tuple[str, int, str]]] = defaultdict(list)
    for path in sorted((home / "staging").rglob("*.parquet")):
        table = pq.read_table(path, columns=["source", "message", "partition_key", "line_no"])
        columns = [table.column(name).to_pylist() for name in ("source", "partition_key", "line_no", "message")]
        for source, key, line, message in zip(*columns, strict=True):
            by_source[source].append((key, line, message))
    return by_source


def read_truth(home: Path) -> dict[tuple[str, int], tuple[str, str]]:
    """(file, line) -> (template id, template)."""
    truth = {}
    with gzip.open(home / "sample_truth" / "ground_truth.csv.gz", "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["template_id"]:
                truth[(row["file"], int(row["line"]))] = (row["template_id"], row["template"])
    return truth


def accuracy_table(home: Path) -> None:
    staged = read_staged(home)
    truth = read_truth(home)
    miner = LogMiner()
    print(f"{'source':<12} {'lines':>8} {'GA':>6} {'PA':>6} {'FGA':>6} {'FTA':>6} {'found':>6} {'truth':>6} "
          f"{'lines/s':>9}")
    total_lines = total_found = total_truth = 0
    weighted_ga = 0.0
    for source in sorted(staged):
        rows = staged[source]
        messages = [message for _, _, message in rows]
        started = time.perf_counter()
        matches = miner.mine(source, messages)
        seconds = time.perf_counter() - started
        keep = [i for i, (key, line, _) in enumerate(rows) if (key, line) in truth]
        true = [truth[rows[i][0], rows[i][1]] for i in keep]
        result = accuracy([matches[i].template_id for i in keep], [matches[i].template for i in keep],
                          [t[0] for t in true], [t[1] for t in true])
        found = len({t.template for t in miner.templates(source)})
        print(f"{source:<12} {len(keep):>8,} {result.GA:>6.3f} {result.PA:>6.3f} {result.FGA:>6.3f} "
              f"{result.FTA:>6.3f} {found:>6} {result.groups_truth:>6} {len(messages) / seconds:>9,.0f}")
        total_lines += len(keep)
        weighted_ga += result.GA * len(keep)
        total_found += found
        total_truth += result.groups_truth
    print(f"{'all':<12} {total_lines:>8,} {weighted_ga / total_lines:>6.3f} {'':>6} {'':>6} {'':>6} "
          f"{total_found:>6} {total_truth:>6}   (GA weighted by lines; found = distinct template texts)")


_DIGITS = re.compile(r"\d+")


def grown_corpus(staged: dict[str, list[tuple[str, int, str]]], lines: int, seed: int) -> list[tuple[str, str]]:
    """`lines` (source, message) pairs: the staged records over and over, every run of digits re-drawn."""
    rng = random.Random(seed)
    pool = [(source, message) for source, rows in staged.items() for _, _, message in rows]

    def redraw(match: re.Match) -> str:
        return str(rng.randrange(10 ** len(match.group())))

    return [(source, _DIGITS.sub(redraw, message)) for source, message in
            (pool[rng.randrange(len(pool))] for _ in range(lines))]


def learn_all(miner: LogMiner, corpus: list[tuple[str, str]]) -> None:
    for start in range(0, len(corpus), LEARN_BATCH):
        pending: dict[str, list[str]] = defaultdict(list)
        for source, message in corpus[start : start + LEARN_BATCH]:
            pending[source].append(message)
        for source, messages in pending.items():
            miner.learn(source, messages)


def learn_step(home: Path, size: int, seed: int, folder: Path) -> None:
    """In its own process: learn `size` lines, save to `folder`, print memory figures as one line."""
    corpus = grown_corpus(read_staged(home), size, seed)
    gc.collect()
    before = process_memory_mb()
    miner = LogMiner()
    started = time.perf_counter()
    learn_all(miner, corpus)
    seconds = time.perf_counter() - started
    gc.collect()
    learned = process_memory_mb() - before
    miner.save(folder)
    state_mb = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
    templates = len({t.template for t in miner.templates()})
    ids = len(miner.templates())
    with open(folder / "match_lines.tsv", "w", encoding="utf-8") as handle:
        for source, message in corpus[:200_000]:
            handle.write(f"{source}\t{message.encode('unicode_escape').decode('ascii')}\n")
    print(learned, state_mb, templates, ids, size / seconds)


def match_step(folder: Path) -> None:
    """In its own process, as a parse worker: load the miner, match 200,000 lines, print the memory."""
    by_source: dict[str, list[str]] = defaultdict(list)
    with open(folder / "match_lines.tsv", encoding="utf-8") as handle:
        for row in handle:
            source, message = row.rstrip("\n").split("\t", 1)
            by_source[source].append(message.encode("ascii").decode("unicode_escape"))
    gc.collect()
    before = process_memory_mb()
    miner = LogMiner.load(folder)
    loaded = process_memory_mb() - before
    for source, messages in by_source.items():
        miner.match(source, messages)
    gc.collect()
    print(loaded, process_memory_mb() - before, process_memory_mb("VmHWM"))


def _run(*args: str) -> list[float]:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True).stdout
    return [float(value) for value in out.split()]


def memory_table(home: Path, sizes: list[int], seed: int) -> None:
    print(f"{'lines':>10} {'learner MB':>11} {'state MB':>9} {'worker: load MB':>16} {'+ match MB':>11} "
          f"{'peak RSS MB':>12} {'templates':>10} {'ids':>7} {'learn lines/s':>14}")
    for size in sizes:
        with tempfile.TemporaryDirectory() as folder:
            learned, state_mb, templates, ids, speed = _run("--learn-step", str(size), "--home", str(home),
                                                             "--seed", str(seed), "--folder", folder)
            loaded, matched, peak = _run("--match-step", "--folder", folder)
        print(f"{size:>10,} {learned:>11.1f} {state_mb:>9.1f} {loaded:>16.1f} {matched:>11.1f} {peak:>12.1f} "
              f"{int(templates):>10,} {int(ids):>7,} {speed:>14,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, default=Path("/tmp/mine_sample"))
    parser.add_argument("--memory", default="", help="comma-separated corpus sizes for the memory table")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-accuracy", action="store_true")
    parser.add_argument("--learn-step", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--match-step", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.learn_step:
        learn_step(args.home, args.learn_step, args.seed, args.folder)
        return
    if args.match_step:
        match_step(args.folder)
        return
    stage(args.home)
    if not args.no_accuracy:
        accuracy_table(args.home)
    if args.memory:
        memory_table(args.home, [int(size) for size in args.memory.split(",")], args.seed)


if __name__ == "__main__":
    main()
