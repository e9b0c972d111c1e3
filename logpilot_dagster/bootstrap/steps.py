"""The bootstrap, one way: stage → mine → parse → load → templates. Each step reads what the one before it
wrote under the home (`store.layout`), so a step can be re-run alone, in its own process, after a crash.

Staging and parsing are per landing file and run in a process pool; mining has one owner (Drain3 state is
not safe across processes) and runs in a child process; the DuckDB load is a single writer. Dagster assets
call these steps one by one; the CLI and the benchmarks call `run_bootstrap`, the same code.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from logpilot_dagster.bootstrap.pool import default_workers, in_child, pool_map, preload, worker_state
from logpilot_dagster.extract.parsed import parse_partition
from logpilot_dagster.ingest.sources import SourcesRegistry
from logpilot_dagster.ingest.staging import StageLimits, StageStats, read_stage_stats, stage_file
from logpilot_dagster.mining import LogMiner
from logpilot_dagster.mining.template_text import template_regex
from logpilot_dagster.store import purged, tables
from logpilot_dagster.store.layout import HomeLayout, safe_keys
from logpilot_dagster.store.locks import MINER_WAIT_S, file_lock

preload(__name__)  # the pools' tasks below: each worker would otherwise import them for itself

LEARN_BATCH = 250_000  # messages held before the miner learns them (memory stays bounded)


# --- stage --------------------------------------------------------------------------------------------

def _init_stage(layout: HomeLayout, registry: SourcesRegistry, limits: StageLimits) -> None:
    worker_state["stage"] = (layout, registry, limits)


def _stage_one(key: str) -> StageStats:
    layout, registry, limits = worker_state["stage"]
    return stage_file(layout, key, registry, limits)


def stage(layout: HomeLayout, registry: SourcesRegistry, keys: Sequence[str], workers: int | None = None,
          limits: StageLimits | None = None) -> list[StageStats]:
    limits = limits or StageLimits()
    # Largest files first so the pool does not wait on one big straggler at the end.
    ordered = sorted(keys, key=lambda k: -_size(layout.landing_file(k)))
    with _copies(layout):
        stats = pool_map(_stage_one, ordered, workers or default_workers(), _init_stage, (layout, registry, limits))
    by_key = {s.partition_key: s for s in stats}
    return [by_key[k] for k in keys]


def _size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except OSError:
        return 0


# --- mine ---------------------------------------------------------------------------------------------


@dataclass
class MineResult:
    mined_partitions: list[str] = field(default_factory=list)
    messages: int = 0
    templates_before: int = 0
    templates_after: int = 0


def mine(layout: HomeLayout, keys: Sequence[str] | None = None) -> MineResult:
    """Teach the persisted miner the staged partitions it has not learned yet (all staged ones by default),
    save it, and write the template catalog the `templates` table is refreshed from.

    A ledger of mined partitions keeps re-runs from counting the same lines twice. Runs in a child process:
    learning leaves hundreds of MB of freed-but-kept heap behind in the process.
    """
    return in_child(_mine, layout, list(keys) if keys is not None else None)


def _mine(layout: HomeLayout, keys: list[str] | None) -> MineResult:
    # The miner's state has one owner at a time: the live writer learns under the same lock.
    with file_lock(layout.miner_lock, MINER_WAIT_S, "the miner's state"):
        return _mine_locked(layout, keys)


def _mine_locked(layout: HomeLayout, keys: list[str] | None) -> MineResult:
    miner = LogMiner.load(layout.miner)
    ledger: dict[str, int] = json.loads(layout.mined_ledger.read_text()) if layout.mined_ledger.exists() else {}
    candidates = keys if keys is not None else staged_keys(layout)
    result = MineResult(templates_before=len(miner.templates()))
    pending: dict[str, list[str]] = {}
    n_pending = 0
    for key in candidates:
        if key in ledger:
            continue
        table = pq.read_table(layout.staged_file(key), columns=["source", "message"])
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
    miner.save(layout.miner)
    known = miner.templates()
    _write_atomically(layout.template_catalog, lambda tmp: pq.write_table(pa.table({
        "template_id": [t.template_id for t in known], "source": [t.source for t in known],
        "template": [t.template for t in known], "regex": [template_regex(t.template) for t in known],
        "example": [t.example for t in known]}, schema=CATALOG_SCHEMA), tmp))
    # The ledger last: a crash before it means the partitions are learned again, from the saved state
    # before them (the miner's save is itself atomic).
    _write_atomically(layout.mined_ledger, lambda tmp: tmp.write_text(json.dumps(ledger, indent=0, sort_keys=True)))
    result.templates_after = len(known)
    return result


CATALOG_SCHEMA = pa.schema([("template_id", pa.string()), ("source", pa.string()), ("template", pa.string()),
                            ("regex", pa.string()), ("example", pa.string())])


def _write_atomically(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    tmp.replace(path)


def _learn(miner: LogMiner, pending: dict[str, list[str]]) -> None:
    """Learning has a per-call cost (template post-processing), so feed the miner large batches."""
    for source, messages in pending.items():
        miner.learn(source, messages)
    pending.clear()


def staged_keys(layout: HomeLayout) -> list[str]:
    """Partitions with a finished staging (its stats file is written last)."""
    if not layout.staging.is_dir():
        return []
    return sorted(p.relative_to(layout.staging).as_posix()[: -len(".json")]
                  for p in layout.staging.rglob("*.json"))


# --- parse --------------------------------------------------------------------------------------------

def _init_parse(layout: HomeLayout) -> None:
    worker_state["parse"] = (layout, LogMiner.load(layout.miner))


def _parse_one(key: str) -> int:
    layout, miner = worker_state["parse"]
    # A worker goes through one landing folder (mostly one source) after another: the matching caches of the
    # folder before would only hold memory, and with every source's caches a worker's peak grew with the input.
    folder = key.partition("/")[0]
    if folder != worker_state.get("parse_folder"):
        miner.forget_derived()
        worker_state["parse_folder"] = folder
    return parse_partition(layout.staged_file(key), miner, layout.parsed_file(key))


def parse(layout: HomeLayout, keys: Sequence[str], workers: int | None = None) -> list[int]:
    with _copies(layout):
        return pool_map(_parse_one, list(keys), workers or default_workers(), _init_parse, (layout,))


# --- load ---------------------------------------------------------------------------------------------


def load(con: duckdb.DuckDBPyConnection, layout: HomeLayout, keys: Sequence[str],
         memory_limit: str = tables.DEFAULT_LOAD_MEMORY) -> tables.LoadResult:
    """Replace these partitions' rows in `logs` and `quarantine` with what parse and stage wrote."""
    stats = [read_stage_stats(layout, k) for k in keys]
    file_stats = pa.table({
        "partition_key": [s.partition_key for s in stats],
        "source": [s.source for s in stats],
        "lines_read": [s.lines_read for s in stats],
        "header_lines": [s.header_lines for s in stats],
        "records": [s.records for s in stats],
        "record_lines": [s.record_lines for s in stats],
        "quarantined_lines": [s.quarantined_lines for s in stats],
        "min_ts": [s.min_ts for s in stats],
        "max_ts": [s.max_ts for s in stats],
    })
    keys = list(keys)
    parsed, quarantined = [layout.parsed_file(k) for k in keys], [layout.quarantine_file(k) for k in keys]
    with _copies(layout):
        removed = purged.ledger_rows(keys, parsed, "logs") + purged.ledger_rows(keys, quarantined, "quarantine")
        return tables.load_partitions(con, keys, parsed, quarantined, file_stats, memory_limit, removed)


def _copies(layout: HomeLayout) -> AbstractContextManager[None]:
    """The landing files' Parquet copies, which a purge rewrites under the same lock (it holds it seconds)."""
    return file_lock(layout.copies_lock, MINER_WAIT_S, "a purge of the landing files' copies")


def refresh_templates(con: duckdb.DuckDBPyConnection, layout: HomeLayout) -> int:
    """The `templates` table from the catalog the mining step wrote (the miner itself is not opened again)."""
    catalog = (pq.read_table(layout.template_catalog) if layout.template_catalog.exists()
               else CATALOG_SCHEMA.empty_table())
    return tables.upsert_templates(con, catalog)


# --- all at once --------------------------------------------------------------------------------------


@dataclass
class BootstrapResult:
    stages: list[StageStats]
    mine: MineResult
    load: tables.LoadResult
    templates: int
    watermarks: dict[str, str | None]
    seconds: dict[str, float] = field(default_factory=dict)  # wall clock per step
    started: dict[str, float] = field(default_factory=dict)  # CLOCK_MONOTONIC at each step's start


def run_bootstrap(layout: HomeLayout, registry: SourcesRegistry | None = None,
                  keys: Sequence[str] | None = None, workers: int | None = None,
                  limits: StageLimits | None = None) -> BootstrapResult:
    """The whole bootstrap without Dagster (benchmarks, tests); the assets run the same steps."""
    layout.ensure()
    registry = registry or SourcesRegistry.load(home_file=layout.sources_file)
    keys, _ = safe_keys(list(keys) if keys is not None else layout.landing_keys())
    seconds: dict[str, float] = {}
    started: dict[str, float] = {}
    with _timed(seconds, started, "stage"):
        stages = stage(layout, registry, keys, workers, limits)
    with _timed(seconds, started, "mine"):
        mined = mine(layout, keys)
    with _timed(seconds, started, "parse"):
        parse(layout, keys, workers)
    with tables.connect(layout.duckdb) as con:
        with _timed(seconds, started, "load"):
            loaded = load(con, layout, keys)
        with _timed(seconds, started, "templates"):
            templates = refresh_templates(con, layout)
            watermarks = tables.update_bootstrap_watermarks(con)
    return BootstrapResult(stages, mined, loaded, templates, watermarks, seconds, started)


@contextmanager
def _timed(seconds: dict[str, float], started: dict[str, float], step: str) -> Iterator[None]:
    started[step] = time.monotonic()
    begin = time.perf_counter()
    yield
    seconds[step] = time.perf_counter() - begin
