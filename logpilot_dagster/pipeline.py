"""The bootstrap as plain steps: stage → mine → parse → load. Dagster assets call these one by one;
the CLI and the benchmarks call `run_bootstrap`, so both go through exactly the same code.

Staging and parsing are per landing file and run in a process pool (both cores); mining has one owner
(Drain3 state is not safe across processes) and runs in a child process of its own, so the memory it
used goes back to the system when it is done; the DuckDB load is a single writer.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from logpilot_dagster.extract.parsed import parse_partition
from logpilot_dagster.ingest.sources import SourcesRegistry
from logpilot_dagster.ingest.staging import StageStats, stage_file, staged_path
from logpilot_dagster.mining import LogMiner
from logpilot_dagster.settings import HomeLayout
from logpilot_dagster.warehouse.load import LoadResult, load_partitions
from logpilot_dagster.warehouse.schema import ensure_schema

MINED_LEDGER = "mined_partitions.json"
LEARN_BATCH = 250_000  # messages held before the miner learns them (memory stays bounded)


def landing_files(landing: Path) -> list[str]:
    """Landing files as partition keys: posix paths relative to the landing folder, sorted."""
    if not landing.is_dir():
        return []
    return sorted(p.relative_to(landing).as_posix() for p in landing.rglob("*")
                  if p.is_file() and not p.name.startswith("."))


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


# Child processes start from a small fork server rather than from the caller. A forked copy of a large
# parent (a Dagster run, a heap the miner just used) does not stay shared: Python's reference counts and
# garbage collector write to the pages they touch, so each worker soon holds a private copy of it all.
_CHILDREN = multiprocessing.get_context("forkserver")
_CHILDREN.set_forkserver_preload([__name__])


# What a pool worker's initializer loaded (the parse step's miner, say). In a worker it lives as long as the
# pool; in-process it is dropped when the map ends, so the caller does not keep a loaded miner.
_worker: dict[str, object] = {}


def _pool_map(fn: Callable, items: Sequence, workers: int, initializer: Callable | None = None,
              initargs: tuple = ()) -> list:
    """Map in a process pool when it pays off; in-process for one item or one worker."""
    if workers <= 1 or len(items) <= 1:
        try:
            if initializer:
                initializer(*initargs)
            return [fn(item) for item in items]
        finally:
            _worker.clear()
    with ProcessPoolExecutor(max_workers=min(workers, len(items)), initializer=initializer,
                             initargs=initargs, mp_context=_CHILDREN) as pool:
        return list(pool.map(fn, items, chunksize=1))


def _in_child(fn: Callable, *args: object) -> object:
    """`fn(*args)` in a child process: whatever memory it used is the system's again when it returns."""
    with ProcessPoolExecutor(max_workers=1, mp_context=_CHILDREN) as pool:
        return pool.submit(fn, *args).result()


# --- stage --------------------------------------------------------------------------------------------

def _init_stage(layout: HomeLayout, registry: SourcesRegistry) -> None:
    _worker["stage"] = (layout, registry)


def _stage_one(key: str) -> StageStats:
    layout, registry = _worker["stage"]
    return stage_file(layout.landing, key, registry, layout.staging, layout.quarantine)


def stage_partitions(layout: HomeLayout, registry: SourcesRegistry, keys: Sequence[str],
                     workers: int | None = None) -> list[StageStats]:
    # Largest files first so the pool does not wait on one big straggler at the end.
    ordered = sorted(keys, key=lambda k: -_size(layout.landing / k))
    stats = _pool_map(_stage_one, ordered, workers or default_workers(), _init_stage, (layout, registry))
    by_key = {s.partition_key: s for s in stats}
    return [by_key[k] for k in keys]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# --- mine ---------------------------------------------------------------------------------------------


@dataclass
class MineResult:
    mined_partitions: list[str] = field(default_factory=list)
    messages: int = 0
    templates_before: int = 0
    templates_after: int = 0


def miner_folder(layout: HomeLayout) -> Path:
    return layout.registry / "drain3"


def mine_partitions(layout: HomeLayout, keys: Iterable[str] | None = None) -> MineResult:
    """Teach the persisted miner the staged partitions it has not seen yet (all staged ones by default).

    A ledger of mined partitions keeps re-runs from counting the same lines twice. Runs in a child process
    (see `_in_child`): learning leaves hundreds of MB of freed-but-kept heap behind in the process.
    """
    return _in_child(_mine, layout, list(keys) if keys is not None else None)


def _mine(layout: HomeLayout, keys: list[str] | None) -> MineResult:
    folder = miner_folder(layout)
    miner = LogMiner.load(folder)
    ledger_path = layout.registry / MINED_LEDGER
    ledger: dict[str, int] = json.loads(ledger_path.read_text()) if ledger_path.exists() else {}
    candidates = keys if keys is not None else staged_partitions(layout)
    result = MineResult(templates_before=len(miner.templates()))
    pending: dict[str, list[str]] = {}
    n_pending = 0
    for key in candidates:
        if key in ledger:
            continue
        table = pq.read_table(staged_path(layout.staging, key), columns=["source", "message"])
        for source, message in zip(table.column("source").to_pylist(), table.column("message").to_pylist(),
                                   strict=True):
            pending.setdefault(source, []).append(message)
        n_pending += table.num_rows
        ledger[key] = table.num_rows
        result.messages += table.num_rows
        result.mined_partitions.append(key)
        if n_pending >= LEARN_BATCH:
            _learn(miner, pending)
            n_pending = 0
    _learn(miner, pending)
    miner.save(folder)
    layout.registry.mkdir(parents=True, exist_ok=True)
    ledger_path.write_text(json.dumps(ledger, indent=0, sort_keys=True))
    result.templates_after = len(miner.templates())
    return result


def _learn(miner: LogMiner, pending: dict[str, list[str]]) -> None:
    """Learning has a per-call cost (template post-processing), so feed the miner large batches."""
    for source, messages in pending.items():
        miner.learn(source, messages)
    pending.clear()


def staged_partitions(layout: HomeLayout) -> list[str]:
    """Partitions with a finished staging (its stats file is written last)."""
    if not layout.staging.is_dir():
        return []
    return sorted(p.relative_to(layout.staging).as_posix()[: -len(".json")]
                  for p in layout.staging.rglob("*.json"))


# --- parse --------------------------------------------------------------------------------------------

def _init_parse(layout: HomeLayout) -> None:
    _worker["parse"] = (layout, LogMiner.load(miner_folder(layout)))


def _parse_one(key: str) -> int:
    layout, miner = _worker["parse"]
    # Keys come in order, so a worker goes through one landing folder (mostly one source) after another:
    # the caches it built for the last folder's messages would only hold memory, and with every source's
    # caches a worker's peak grew with the input (measured before this: 316 MB at 1M lines, 359 MB at 4M;
    # after: 285 and 316 MB).
    folder = key.partition("/")[0]
    if folder != _worker.get("parse_folder"):  # the landing folder of the partition parsed last
        miner.forget_derived()
        _worker["parse_folder"] = folder
    return parse_partition(staged_path(layout.staging, key), miner, staged_path(layout.parsed, key))


def parse_partitions(layout: HomeLayout, keys: Sequence[str], workers: int | None = None) -> list[int]:
    return _pool_map(_parse_one, list(keys), workers or default_workers(), _init_parse, (layout,))


# --- load ---------------------------------------------------------------------------------------------


def load_logs(con: duckdb.DuckDBPyConnection, layout: HomeLayout, keys: Sequence[str]) -> LoadResult:
    return load_partitions(con, keys, layout.parsed, layout.quarantine, layout.staging)


def template_regex(template: str) -> str:
    """A template as an anchored regex: literal text escaped, each `<*>` a lazy group."""
    return "^" + "(.*?)".join(re.escape(part) for part in template.split("<*>")) + "$"


def refresh_templates(con: duckdb.DuckDBPyConnection, layout: HomeLayout) -> int:
    """Upsert the template catalog; counts and first/last seen come from `logs`, labels are kept."""
    ensure_schema(con)
    miner = LogMiner.load(miner_folder(layout))
    rows = [(t.template_id, t.source, t.template, template_regex(t.template), t.example)
            for t in miner.templates()]
    con.execute("BEGIN TRANSACTION")
    try:
        con.register("mined", pa.table(list(zip(*rows, strict=True)) if rows else [[]] * 5,
                                       names=["template_id", "source", "template", "regex", "example"]))
        con.execute("""
            INSERT INTO templates (template_id, source, template, regex, count, first_seen, last_seen, example)
            SELECT m.template_id, m.source, m.template, m.regex, coalesce(s.n, 0), s.first_seen, s.last_seen,
                   m.example
            FROM mined m LEFT JOIN (
                SELECT template_id, count(*) AS n, min(ts) AS first_seen, max(ts) AS last_seen
                FROM logs_all GROUP BY template_id) s USING (template_id)
            ON CONFLICT (template_id) DO UPDATE SET
                source = excluded.source, template = excluded.template, regex = excluded.regex,
                count = excluded.count, first_seen = excluded.first_seen, last_seen = excluded.last_seen,
                example = excluded.example
        """).fetchall()
        con.unregister("mined")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return len(rows)


def update_bootstrap_watermarks(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """T1 per source: the newest bootstrap timestamp loaded. Live ingestion starts after it."""
    ensure_schema(con)
    con.execute("""
        INSERT INTO ingest_watermarks (source, bootstrap_t1, updated_at)
        SELECT source, max(ts), now() FROM logs WHERE ingest_mode = 'bootstrap' GROUP BY source
        ON CONFLICT (source) DO UPDATE SET bootstrap_t1 = excluded.bootstrap_t1, updated_at = now()
    """)
    rows = con.execute("SELECT source, bootstrap_t1 FROM ingest_watermarks ORDER BY source").fetchall()
    return {source: t1.isoformat() if t1 else None for source, t1 in rows}


# --- all at once --------------------------------------------------------------------------------------


@dataclass
class BootstrapResult:
    stages: list[StageStats]
    mine: MineResult
    load: LoadResult
    templates: int
    watermarks: dict[str, str]
    seconds: dict[str, float] = field(default_factory=dict)  # wall clock per step
    started: dict[str, float] = field(default_factory=dict)  # CLOCK_MONOTONIC at each step's start


def run_bootstrap(layout: HomeLayout, registry: SourcesRegistry | None = None,
                  keys: Sequence[str] | None = None, workers: int | None = None) -> BootstrapResult:
    """The whole bootstrap without Dagster (benchmarks, tests); the assets run the same steps."""
    layout.ensure()
    registry = registry or SourcesRegistry.load(home_file=layout.sources_file)
    keys = list(keys) if keys is not None else landing_files(layout.landing)
    seconds: dict[str, float] = {}
    started: dict[str, float] = {}
    with _timed(seconds, started, "stage"):
        stages = stage_partitions(layout, registry, keys, workers)
    with _timed(seconds, started, "mine"):
        mined = mine_partitions(layout, keys)
    with _timed(seconds, started, "parse"):
        parse_partitions(layout, keys, workers)
    with duckdb.connect(str(layout.duckdb)) as con:
        with _timed(seconds, started, "load"):
            loaded = load_logs(con, layout, keys)
        with _timed(seconds, started, "templates"):
            templates = refresh_templates(con, layout)
            watermarks = update_bootstrap_watermarks(con)
    return BootstrapResult(stages, mined, loaded, templates, watermarks, seconds, started)


@contextmanager
def _timed(seconds: dict[str, float], started: dict[str, float], step: str) -> Iterator[None]:
    started[step] = time.monotonic()
    begin = time.perf_counter()
    yield
    seconds[step] = time.perf_counter() - begin
