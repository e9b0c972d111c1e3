"""Idempotent bulk loads into DuckDB: delete a partition's rows, insert them from Parquet, in one transaction."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from logpilot_dagster.ingest.staging import StageStats, read_stage_stats, staged_path
from logpilot_dagster.warehouse.schema import LOGS_STORED, ensure_schema

# DuckDB's memory during the bulk load: without a cap it buffers the whole transaction's row groups and the
# load's memory grows with the input (955 MB for 3.8M rows); capped, it writes blocks out as it goes
# (372-525 MB for the same rows, a few seconds slower). Restored to DuckDB's default after the load.
LOAD_MEMORY_ENV = "LOGPILOT_LOAD_MEMORY_LIMIT"
DEFAULT_LOAD_MEMORY = "400MB"
QUARANTINE_COLUMNS = ("partition_key", "source", "origin", "line_no", "n_lines", "reason", "detail",
                      "raw_b64", "raw_size")


@dataclass(frozen=True)
class LoadResult:
    partitions: int
    rows: int
    quarantined: int


def load_partitions(con: duckdb.DuckDBPyConnection, keys: Sequence[str], parsed: Path, quarantine: Path,
                    staging: Path) -> LoadResult:
    """Replace the rows of these landing-file partitions with what their Parquet files hold."""
    ensure_schema(con)
    keys = list(keys)
    parsed_files = [str(staged_path(parsed, k)) for k in keys]
    bad_files = [str(staged_path(quarantine, k)) for k in keys]
    stats = [read_stage_stats(staging, k) for k in keys]
    con.execute("SET preserve_insertion_order = false")  # lets DuckDB insert with every thread
    limit = os.environ.get(LOAD_MEMORY_ENV) or DEFAULT_LOAD_MEMORY
    try:
        con.execute("SET memory_limit = ?", [limit])
    except duckdb.Error as err:
        raise ValueError(f"{LOAD_MEMORY_ENV}={limit!r} is not a memory size such as 400MB or 2GB") from err
    try:
        return _load(con, keys, parsed_files, bad_files, stats)
    finally:
        con.execute("RESET memory_limit")


def _load(con: duckdb.DuckDBPyConnection, keys: list[str], parsed_files: list[str], bad_files: list[str],
          stats: list[StageStats]) -> LoadResult:
    con.execute("BEGIN TRANSACTION")
    try:
        for table in ("logs", "quarantine", "landing_files"):
            con.execute(f"DELETE FROM {table} WHERE partition_key IN (SELECT unnest(?::VARCHAR[]))", [keys])
        try:
            rows = _insert(con, "logs", LOGS_STORED, parsed_files)  # origin is computed
        except duckdb.ConversionException as err:  # a hex-string log_id does not convert to UBIGINT
            raise ValueError("parsed Parquet of an earlier layout (string log_id): re-run the parse step "
                             f"for these partitions before loading them ({err})") from err
        quarantined = _insert(con, "quarantine", QUARANTINE_COLUMNS, bad_files)
        _insert_file_stats(con, stats)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return LoadResult(len(keys), rows, quarantined)


def _insert(con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str], files: list[str]) -> int:
    if not files:
        return 0
    names = ", ".join(columns)
    (inserted,), = con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM read_parquet(?)",
                               [files]).fetchall()
    return int(inserted)


def _insert_file_stats(con: duckdb.DuckDBPyConnection, stats: list[StageStats]) -> None:
    rows = pa.table({
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
    con.register("file_stats", rows)  # one bulk insert; executemany costs a round trip per row
    con.execute("INSERT INTO landing_files SELECT * EXCLUDE (min_ts, max_ts), min_ts::TIMESTAMPTZ, "
                "max_ts::TIMESTAMPTZ, now() FROM file_stats").fetchall()
    con.unregister("file_stats")


def load_system_catalog(con: duckdb.DuckDBPyConnection, csv_path: Path) -> int:
    """Replace `system_catalog` with the CSV (`system_name, department, owner_email, criticality`)."""
    ensure_schema(con)
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        expected = ["system_name", "department", "owner_email", "criticality"]
        if reader.fieldnames is None or [c.strip() for c in reader.fieldnames] != expected:
            raise ValueError(f"{csv_path}: expected columns {expected}, found {reader.fieldnames}")
        rows = [tuple(r[c] for c in expected) for r in reader]
    con.execute("BEGIN TRANSACTION")
    con.execute("DELETE FROM system_catalog")
    con.executemany("INSERT INTO system_catalog VALUES (?, ?, ?, ?)", rows)
    con.execute("COMMIT")
    return len(rows)


def conservation(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Lines read (less CSV headers) against lines stored in `logs` and lines quarantined."""
    read, = con.execute("SELECT coalesce(sum(lines_read - header_lines), 0) FROM landing_files").fetchone()
    stored, = con.execute("SELECT coalesce(sum(n_lines), 0) FROM logs_all").fetchone()
    quarantined, = con.execute("SELECT coalesce(sum(n_lines), 0) FROM quarantine").fetchone()
    return {"lines_read": int(read), "lines_stored": int(stored), "lines_quarantined": int(quarantined)}
