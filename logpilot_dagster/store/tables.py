"""The DuckDB tables LogPilot writes, and every SQL statement that reads or writes them.

Table and column names are an interface: the CLI, the API and tests use them. `logs` is shaped for bulk-load
speed (the load is bound by DuckDB compressing columns as it writes them): `log_id` is an integer rather than
a hex string, `origin` is computed from `partition_key` and `line_no` instead of stored (filter on those two
to find a line fast: a computed column has no min/max zone maps), `message` is zstd-compressed, and the short
strings in `params` are stored uncompressed (compressing them cost more than the rest of the row).

Writers go through `transaction()`; loads are idempotent (delete a partition's rows, insert, one transaction).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from logpilot_dagster.store.locks import WAREHOUSE_WAIT_S, when_free

# (name, type, description) per column: the schema below and the column schemas the Dagster UI shows.
LOGS_COLUMNS = (
    ("log_id", "UBIGINT NOT NULL", "stable: 64-bit hash of source, landing file and line"),
    ("ts", "TIMESTAMPTZ NOT NULL", "event time, UTC"),
    ("source", "VARCHAR NOT NULL", "the system the line came from"),
    ("level", "VARCHAR", "normalised level (DEBUG, INFO, WARN, ERROR, CRITICAL)"),
    ("component", "VARCHAR", "logger, program or service inside the source"),
    ("message", "VARCHAR USING COMPRESSION zstd NOT NULL", "the line's message, personal data masked"),
    ("template_id", "VARCHAR", "the mined template (join `templates`)"),
    ("params", "VARCHAR[] USING COMPRESSION uncompressed", "the values of the template's wildcards"),
    ("kv", "MAP(VARCHAR, VARCHAR)", "key-value pairs found in the message"),
    ("ingest_mode", "VARCHAR NOT NULL", "bootstrap | live"),
    ("origin", "VARCHAR GENERATED ALWAYS AS (partition_key || ':' || line_no) VIRTUAL", "file:line"),
    ("partition_key", "VARCHAR NOT NULL", "the landing file (bootstrap) or stream batch (live)"),
    ("line_no", "BIGINT", "line in the landing file, or the stream offset"),
    ("n_lines", "INTEGER NOT NULL", "physical lines in the record (stack traces span several)"),
)
QUARANTINE_COLUMNS = (
    ("partition_key", "VARCHAR NOT NULL", "the landing file"),
    ("source", "VARCHAR", "the source its path matched, if any"),
    ("origin", "VARCHAR NOT NULL", "file:line"),
    ("line_no", "BIGINT", "first physical line"),
    ("n_lines", "INTEGER NOT NULL", "physical lines the entry covers"),
    ("reason", "VARCHAR NOT NULL", "why it could not be ingested (bad_timestamp, symlink, ...)"),
    ("detail", "VARCHAR", "what exactly was wrong, masked"),
    ("raw_b64", "VARCHAR", "the line's bytes, personal data masked, first 64 KiB, base64"),
    ("raw_size", "BIGINT", "size of the original line in bytes"),
)
TEMPLATES_COLUMNS = (
    ("template_id", "VARCHAR PRIMARY KEY", "the miner's id"),
    ("source", "VARCHAR NOT NULL", "the source it was mined from"),
    ("template", "VARCHAR NOT NULL", "literal text with <*> wildcards"),
    ("regex", "VARCHAR NOT NULL", "anchored regex, one group per wildcard"),
    ("count", "BIGINT NOT NULL", "lines of this template in logs_all"),
    ("first_seen", "TIMESTAMPTZ", "oldest line"),
    ("last_seen", "TIMESTAMPTZ", "newest line"),
    ("label", "VARCHAR", "the classifier's label"),
    ("label_confidence", "DOUBLE", "its confidence"),
    ("label_tier", "VARCHAR", "rules | model | llm | human | unclassified"),
    ("example", "VARCHAR", "one line of the template, masked"),
)
SYSTEM_CATALOG_COLUMNS = (
    ("system_name", "VARCHAR PRIMARY KEY", "a source"),
    ("department", "VARCHAR", "who runs it"),
    ("owner_email", "VARCHAR", "who to call"),
    ("criticality", "VARCHAR", "how much it matters"),
)
LANDING_FILES_COLUMNS = (
    ("partition_key", "VARCHAR PRIMARY KEY", "the landing file"),
    ("source", "VARCHAR", "its source"),
    ("lines_read", "BIGINT NOT NULL", "physical lines read"),
    ("header_lines", "BIGINT NOT NULL", "CSV header rows (read, not log lines)"),
    ("records", "BIGINT NOT NULL", "records staged"),
    ("record_lines", "BIGINT NOT NULL", "physical lines inside records"),
    ("quarantined_lines", "BIGINT NOT NULL", "physical lines quarantined"),
    ("min_ts", "TIMESTAMPTZ", "oldest record"),
    ("max_ts", "TIMESTAMPTZ", "newest record"),
    ("loaded_at", "TIMESTAMPTZ NOT NULL", "when the load committed"),
)
INGEST_WATERMARKS_COLUMNS = (
    ("source", "VARCHAR PRIMARY KEY", "a source"),
    ("bootstrap_t1", "TIMESTAMPTZ", "newest timestamp loaded by the bootstrap: live starts after it"),
    ("live_offsets", "JSON", "stream offsets committed with the rows they produced"),
    ("updated_at", "TIMESTAMPTZ NOT NULL", "last change"),
)
PURGE_AUDIT_COLUMNS = (
    ("request_id", "VARCHAR PRIMARY KEY", "the request"),
    ("subject", "VARCHAR NOT NULL", "salted hash of the subject, never the subject"),
    ("requested_at", "TIMESTAMPTZ NOT NULL", "when"),
    ("rows_deleted", "BIGINT", "rows removed"),
    ("vectors_deleted", "BIGINT", "vectors removed"),
    ("files_rewritten", "BIGINT", "files rewritten"),
    ("lines_purged", "BIGINT", "physical lines removed from the tiers, the quarantine and copies not loaded yet"),
    ("per_sink", "JSON", "copies removed per sink"),
    ("duration_s", "DOUBLE", "how long the purge took"),
)
PURGED_LINES_COLUMNS = (
    ("request_id", "VARCHAR NOT NULL", "the purge request"),
    ("partition_key", "VARCHAR", "the landing file (or stream partition) of the rows; NULL: not known"),
    ("sink", "VARCHAR NOT NULL", "logs | quarantine | warm | cold (audit: recorded before this table)"),
    ("rows", "BIGINT NOT NULL", "rows removed"),
    ("lines", "BIGINT NOT NULL", "physical lines of those rows (conservation)"),
    ("purged_at", "TIMESTAMPTZ NOT NULL", "when"),
)
TIER_FILES_COLUMNS = (
    ("path", "VARCHAR PRIMARY KEY", "a Parquet file of the warm or cold tier (a local path or a URL)"),
    ("tier", "VARCHAR NOT NULL", "warm | cold"),
    ("source", "VARCHAR NOT NULL", "the source of its rows"),
    ("min_ts", "TIMESTAMPTZ", "oldest row"),
    ("max_ts", "TIMESTAMPTZ", "newest row"),
    ("rows", "BIGINT NOT NULL", "rows in the file"),
    ("lines", "BIGINT NOT NULL", "physical lines of those rows (conservation)"),
    ("bytes", "BIGINT NOT NULL", "size on disk"),
    ("written_at", "TIMESTAMPTZ NOT NULL", "when"),
)
TIER_MOVES_COLUMNS = (
    ("move_id", "VARCHAR PRIMARY KEY", "one tiering move"),
    ("tier", "VARCHAR NOT NULL", "the tier it moves rows into"),
    ("state", "VARCHAR NOT NULL", "writing | committed | done | aborted"),
    ("plan", "JSON", "files written (staged → final) and files to remove once committed"),
    ("started_at", "TIMESTAMPTZ NOT NULL", "when"),
    ("finished_at", "TIMESTAMPTZ", "when it reached done or aborted"),
)
TABLES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "logs": LOGS_COLUMNS, "quarantine": QUARANTINE_COLUMNS, "landing_files": LANDING_FILES_COLUMNS,
    "templates": TEMPLATES_COLUMNS, "system_catalog": SYSTEM_CATALOG_COLUMNS,
    "ingest_watermarks": INGEST_WATERMARKS_COLUMNS, "purge_audit": PURGE_AUDIT_COLUMNS,
    "purged_lines": PURGED_LINES_COLUMNS,
    "tier_files": TIER_FILES_COLUMNS, "tier_moves": TIER_MOVES_COLUMNS,
}
# logs_all = hot + warm, logs_archive = + cold. The tier parts read the files `tier_files` lists, so the views
# are rebuilt (`refresh_views`) whenever that list changes; a view over a glob would fail once a tier is empty.
LABELLED_VIEW = """
CREATE OR REPLACE VIEW logs_labelled AS
    SELECT l.*, coalesce(t.label, 'unclassified') AS label, t.label_confidence, t.label_tier
    FROM logs_all l LEFT JOIN templates t USING (template_id);
"""
VIEWS = """
CREATE VIEW IF NOT EXISTS logs_all AS SELECT * FROM logs;
CREATE VIEW IF NOT EXISTS logs_archive AS SELECT * FROM logs_all;
""" + LABELLED_VIEW
# The columns `logs` stores: all but the computed origin.
LOGS_STORED = tuple(name for name, kind, _ in LOGS_COLUMNS if "GENERATED" not in kind)
QUARANTINE_STORED = tuple(name for name, _, _ in QUARANTINE_COLUMNS)

# Schema changes after the first release go here, in order, each run once (recorded in schema_version).
MIGRATIONS: tuple[str, ...] = (
    "ALTER TABLE purge_audit ADD COLUMN IF NOT EXISTS lines_purged BIGINT;"
    "ALTER TABLE purge_audit ADD COLUMN IF NOT EXISTS per_sink JSON;"
    "ALTER TABLE purge_audit ADD COLUMN IF NOT EXISTS duration_s DOUBLE;",
    # Purges recorded before `purged_lines` kept their lines in purge_audit only.
    "INSERT INTO purged_lines SELECT request_id, NULL, 'audit', coalesce(rows_deleted, 0), lines_purged, "
    "requested_at FROM purge_audit WHERE coalesce(lines_purged, 0) > 0;",
)

# DuckDB's memory during the bulk load: without a cap it buffers the whole transaction's row groups and the
# load's memory grows with the input; capped, it writes blocks out as it goes (a few seconds slower).
DEFAULT_LOAD_MEMORY = "400MB"


def create_statement(table: str) -> str:
    columns = ",\n    ".join(f"{name} {kind}" for name, kind, _ in TABLES[table])
    return f"CREATE TABLE IF NOT EXISTS {table} (\n    {columns}\n);"


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create what is missing and apply pending migrations. Every writer calls this first, so it also quiets
    DuckDB's progress bar, which would otherwise fill batch-run logs."""
    con.execute("SET enable_progress_bar = false")
    con.execute("\n".join(create_statement(t) for t in TABLES))
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    done, = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    for version, statement in enumerate(MIGRATIONS[done:], start=done + 1):
        with transaction(con):
            con.execute(statement)
            con.execute("INSERT INTO schema_version VALUES (?)", [version])
    con.execute(VIEWS)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN … COMMIT, or ROLLBACK on any exception (KeyboardInterrupt included)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def connect(path: str | Path, read_only: bool = False, timeout_s: float = WAREHOUSE_WAIT_S
            ) -> duckdb.DuckDBPyConnection:
    """The warehouse; a writer gets the schema ensured. While another process holds the file (a live batch, a
    bootstrap load), waited for at most `timeout_s`, then `Busy`."""
    if not read_only:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = when_free(lambda: duckdb.connect(str(path), read_only=read_only), f"the warehouse ({path})", timeout_s)
    if not read_only:
        ensure_schema(con)
    return con


# --- the bootstrap load --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    partitions: int
    rows: int
    quarantined: int


def load_partitions(con: duckdb.DuckDBPyConnection, keys: Sequence[str], parsed_files: Sequence[Path],
                    quarantine_files: Sequence[Path], file_stats: pa.Table,
                    memory_limit: str = DEFAULT_LOAD_MEMORY, purged: Sequence[tuple] = ()) -> LoadResult:
    """Replace the rows of these landing-file partitions with what their Parquet files hold, and their rows of
    `purged_lines` with `purged`, what purges removed from those files (`store.purged`)."""
    ensure_schema(con)
    keys = list(keys)
    con.execute("SET preserve_insertion_order = false")  # lets DuckDB insert with every thread
    try:
        con.execute("SET memory_limit = ?", [memory_limit])
    except duckdb.Error as err:
        raise ValueError(f"load memory limit {memory_limit!r} is not a memory size such as 400MB or 2GB") from err
    try:
        with transaction(con):
            for table in ("logs", "quarantine", "landing_files"):
                con.execute(f"DELETE FROM {table} WHERE partition_key IN (SELECT unnest(?::VARCHAR[]))", [keys])
            rows = _insert_parquet(con, "logs", LOGS_STORED, parsed_files)
            quarantined = _insert_parquet(con, "quarantine", QUARANTINE_STORED, quarantine_files)
            con.register("file_stats", file_stats)  # one bulk insert; executemany costs a round trip per row
            con.execute("INSERT INTO landing_files SELECT * EXCLUDE (min_ts, max_ts), min_ts::TIMESTAMPTZ, "
                        "max_ts::TIMESTAMPTZ, now() FROM file_stats").fetchall()
            con.unregister("file_stats")
            con.execute("DELETE FROM purged_lines WHERE partition_key IN (SELECT unnest(?::VARCHAR[]))", [keys])
            if purged:
                con.executemany("INSERT INTO purged_lines VALUES (?, ?, ?, ?, ?, now())", [list(r) for r in purged])
    finally:
        con.execute("RESET memory_limit")
    return LoadResult(len(keys), rows, quarantined)


def _insert_parquet(con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str],
                    files: Sequence[Path]) -> int:
    if not files:
        return 0
    names = ", ".join(columns)
    (inserted,), = con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM read_parquet(?)",
                               [[str(f) for f in files]]).fetchall()
    return int(inserted)


def loaded_partitions(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {k for k, in con.execute("SELECT partition_key FROM landing_files").fetchall()}


def replace_system_catalog(con: duckdb.DuckDBPyConnection, rows: Sequence[tuple[str, str, str, str]]) -> int:
    ensure_schema(con)
    with transaction(con):
        con.execute("DELETE FROM system_catalog")
        con.executemany("INSERT INTO system_catalog VALUES (?, ?, ?, ?)", rows)
    return len(rows)


def upsert_templates(con: duckdb.DuckDBPyConnection, mined: pa.Table) -> int:
    """Upsert the template catalog from (template_id, source, template, regex, example); counts and first/last
    seen come from `logs_all`, labels are kept."""
    ensure_schema(con)
    with transaction(con):
        con.register("mined", mined)
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
    return mined.num_rows


def update_bootstrap_watermarks(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    """T1 per source: the newest bootstrap timestamp loaded. Live ingestion starts after it. Lines dated in
    the future never reach `logs` (staging quarantines them), so one bad clock cannot move T1."""
    ensure_schema(con)
    with transaction(con):
        con.execute("""
            INSERT INTO ingest_watermarks (source, bootstrap_t1, updated_at)
            SELECT source, max(ts), now() FROM logs WHERE ingest_mode = 'bootstrap' GROUP BY source
            ON CONFLICT (source) DO UPDATE SET bootstrap_t1 = excluded.bootstrap_t1, updated_at = now()
        """)
    rows = con.execute("SELECT source, bootstrap_t1 FROM ingest_watermarks ORDER BY source").fetchall()
    return {source: t1.isoformat() if t1 else None for source, t1 in rows}


# --- labels ---------------------------------------------------------------------------------------------


def templates_to_label(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, str, int]]:
    """(template_id, source, template, example or template, count) for every template."""
    ensure_schema(con)
    return con.execute("SELECT template_id, source, template, coalesce(example, template), count "
                       "FROM templates ORDER BY template_id").fetchall()


def write_template_labels(con: duckdb.DuckDBPyConnection, decided: pa.Table) -> None:
    """(template_id, label, label_confidence, label_tier) into `templates`, in one transaction."""
    with transaction(con):
        con.register("decided", decided)
        con.execute("""
            UPDATE templates SET label = d.label, label_confidence = d.label_confidence, label_tier = d.label_tier
            FROM decided d WHERE templates.template_id = d.template_id
        """)
        con.unregister("decided")


def template_texts_by_count(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [t for t, in con.execute("SELECT template FROM templates ORDER BY count DESC").fetchall()]


def templates_for_index(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """(template_id, source, template, label, label_tier, count, example) of every template: the vector index."""
    return con.execute("SELECT template_id, source, template, label, label_tier, count, example FROM templates "
                       "ORDER BY template_id").fetchall()


def truth_joined_to_logs(con: duckdb.DuckDBPyConnection, truth_csv: Path):
    """The generator's label for each line in `logs` (file = partition_key, line = line_no): the masked
    message as stored, with the miner's template id, as a DataFrame."""
    return con.execute("""
        SELECT l.source, l.message AS log_message, t.label AS target_label, 'ground_truth' AS label_source,
               l.template_id
        FROM logs_all l
        JOIN (SELECT file, CAST(line AS BIGINT) AS line, label
              FROM read_csv(?, all_varchar = true, header = true)
              WHERE coalesce(label, '') <> '' AND coalesce(bad_reason, '') = '') t
          ON l.partition_key = t.file AND l.line_no = t.line
    """, [str(truth_csv)]).df()


# --- read-only questions (UI metadata, the CLI summary, checks) -----------------------------------------


def conservation(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Lines read (less CSV headers) against lines stored in every tier, quarantined and purged. The warm and
    cold tiers count from their file catalog, so a cold tier on object storage counts too; purges count from
    `purged_lines` (see `store.purged`)."""
    read, = con.execute("SELECT coalesce(sum(lines_read - header_lines), 0) FROM landing_files").fetchone()
    hot, = con.execute("SELECT coalesce(sum(n_lines), 0) FROM logs").fetchone()
    tiers, = con.execute("SELECT coalesce(sum(lines), 0) FROM tier_files").fetchone()
    quarantined, = con.execute("SELECT coalesce(sum(n_lines), 0) FROM quarantine").fetchone()
    ledger = ("SELECT coalesce(sum(lines), 0) FROM purged_lines" if has_table(con, "purged_lines") else
              "SELECT coalesce(sum(lines_purged), 0) FROM purge_audit")  # not migrated yet: read-only
    purged, = con.execute(ledger).fetchone()
    return {"lines_read": int(read), "lines_stored": int(hot) + int(tiers), "lines_quarantined": int(quarantined),
            "lines_purged": int(purged)}


def conserved(totals: dict[str, int]) -> bool:
    return totals["lines_read"] == (totals["lines_stored"] + totals["lines_quarantined"]
                                    + totals.get("lines_purged", 0))


def partition_counts(con: duckdb.DuckDBPyConnection, keys: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Per landing file: (rows in logs, quarantine entries)."""
    found = con.execute("""
        WITH k AS (SELECT unnest(?::VARCHAR[]) AS partition_key)
        SELECT k.partition_key, coalesce(l.n, 0), coalesce(q.n, 0) FROM k
        LEFT JOIN (SELECT partition_key, count(*) AS n FROM logs WHERE partition_key IN (SELECT * FROM k)
                   GROUP BY ALL) l USING (partition_key)
        LEFT JOIN (SELECT partition_key, count(*) AS n FROM quarantine WHERE partition_key IN (SELECT * FROM k)
                   GROUP BY ALL) q USING (partition_key)
    """, [list(keys)]).fetchall()
    return {key: (int(rows), int(bad)) for key, rows, bad in found}


def table_row_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}")
    return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def top_templates(con: duckdb.DuckDBPyConnection, limit: int) -> list[tuple[str, int, str]]:
    return con.execute("SELECT template_id, count, template FROM templates ORDER BY count DESC LIMIT ?",
                       [limit]).fetchall()


def template_sources(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT count(DISTINCT source) FROM templates").fetchone()[0])


def template_coverage(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """Lines whose message matches their template's regex, out of all lines with a template."""
    covered, total = con.execute("""
        SELECT count(*) FILTER (WHERE regexp_full_match(l.message, '(?s)' || t.regex)), count(*)
        FROM logs_all l JOIN templates t USING (template_id)
    """).fetchone()
    return int(covered), int(total)


def rows_by_source(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(con.execute("SELECT source, count(*) FROM logs_all GROUP BY source ORDER BY 2 DESC").fetchall())


def quarantine_by_reason(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(con.execute(
        "SELECT reason, sum(n_lines)::BIGINT FROM quarantine GROUP BY reason ORDER BY 2 DESC").fetchall())


def quarantine_entries_by_reason(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(con.execute("SELECT reason, count(*) FROM quarantine GROUP BY reason ORDER BY 2 DESC").fetchall())


def rows_by_month_and_source(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int]]:
    return con.execute("""
        SELECT strftime(ts AT TIME ZONE 'UTC', '%Y-%m') AS month, source, count(*)
        FROM logs_all GROUP BY ALL ORDER BY month, source
    """).fetchall()


def system_catalog_rows(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    return con.execute("SELECT system_name, department, criticality FROM system_catalog "
                       "ORDER BY system_name").fetchall()


def lines_by_label(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    return con.execute("SELECT label, count(*) FROM logs_labelled GROUP BY ALL ORDER BY 2 DESC").fetchall()


def lines_by_tier(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    return con.execute("SELECT coalesce(label_tier, 'none'), count(*) FROM logs_labelled GROUP BY ALL "
                       "ORDER BY 2 DESC").fetchall()


# --- live ingestion --------------------------------------------------------------------------------------

# An `ingest_watermarks` row named `stream:<stream key>` holds a stream's committed positions (a stream
# partition mixes sources, so its positions belong to no one source); its bootstrap_t1 stays NULL.
LIVE_STREAM_PREFIX = "stream:"


@dataclass(frozen=True)
class LiveWrite:
    rows: int  # rows inserted into `logs`
    quarantined: int  # entries inserted into `quarantine`
    duplicate_rows: int  # rows of the batch already stored (a re-run, a redelivery)
    duplicate_quarantined: int
    positions_changed: bool
    skipped_before_t1: int = 0  # rows at or before a T1 raised after the batch was decoded


def bootstrap_t1(con: duckdb.DuckDBPyConnection) -> dict:
    """T1 per source (timezone-aware datetimes); empty until the bootstrap wrote its watermark."""
    return dict(con.execute("SELECT source, bootstrap_t1 FROM ingest_watermarks "
                            "WHERE bootstrap_t1 IS NOT NULL").fetchall())


def live_positions(con: duckdb.DuckDBPyConnection, stream_key: str) -> dict[str, int]:
    """The next position to read per stream partition, as committed with the rows they produced."""
    found = con.execute("SELECT live_offsets FROM ingest_watermarks WHERE source = ?",
                        [LIVE_STREAM_PREFIX + stream_key]).fetchone()
    if not found or not found[0]:
        return {}
    return {k: int(v) for k, v in json.loads(found[0]).get("positions", {}).items()}


# DuckDB's memory for one live batch's transaction and the checkpoint when the writer closes the file. Small:
# at 256MB every fifth checkpoint or so took ~150MB more than the others (the peak of a long catch-up); a
# batch of very long records, which needs more, is written again with the larger limit.
DEFAULT_LIVE_MEMORY = "64MB"
LARGE_LIVE_MEMORY = "512MB"


def write_live_batch(con: duckdb.DuckDBPyConnection, rows: pa.Table, quarantined: pa.Table,
                     templates: pa.Table, stream_key: str, positions: dict[str, int],
                     more_follow: bool = False, check: Callable[[], None] | None = None) -> LiveWrite:
    """One live batch in ONE transaction: rows whose log_id is not stored yet, quarantine entries not stored
    yet (by partition_key and line_no), the batch's templates (counts grow by the rows inserted), a ledger
    row per stream partition in `landing_files` (so conservation covers live lines), and the positions,
    merged so that they only move forward. Re-running a batch inserts nothing and moves nothing.

    `more_follow`: the writer has the next batch of a catch-up in hand. Its checkpoint then leaves the row
    groups as they are, and the pass's last batch merges them (the vacuum). Merged after every batch, a
    catch-up's rows are compressed again and again (1M rows in 50k batches: 3.95 s of checkpoints against
    2.75 s, `benchmarks/bench_live_checkpoints.py`); left to whichever connection writes next, the merge
    has no memory bound (the bench's 1M catch-up peaked at 1,298 MB against 886 MB at 200k).

    `check`: called inside the transaction, before anything is written; what it raises rolls the batch back
    (the live writer's `purge_guard.check`)."""
    ensure_schema(con)
    if not more_follow:
        # The close merges the pass's row groups, the costliest step of a catch-up's last batch, and the
        # workers are done by then: two threads cut it by a third.
        con.execute("SET threads = ?", [min(2, os.cpu_count() or 1)])
        return _write_within_memory(con, rows, quarantined, templates, stream_key, positions, check)
    con.execute("SET threads = 1")  # a batch is small; the live workers have the cores
    # The database's setting, not the connection's: put back at once, with the checkpoint done meanwhile.
    con.execute("SET max_vacuum_tasks = 0")
    try:
        written = _write_within_memory(con, rows, quarantined, templates, stream_key, positions, check)
        _checkpoint(con)
        return written
    finally:
        with suppress(duckdb.Error):  # a connection broken by the error above takes the setting with it
            con.execute("RESET max_vacuum_tasks")


def merge_row_groups(con: duckdb.DuckDBPyConnection) -> None:
    """The merge a catch-up's last batch does (see `write_live_batch`), for a pass that stopped before it,
    under the live writer's limits."""
    con.execute("SET threads = 1")
    con.execute("SET memory_limit = ?", [DEFAULT_LIVE_MEMORY])
    _checkpoint(con)


def _checkpoint(con: duckdb.DuckDBPyConnection) -> None:
    with suppress(duckdb.Error):  # another connection's transaction is open: the close checkpoints instead
        con.execute("CHECKPOINT")


def _write_within_memory(con: duckdb.DuckDBPyConnection, rows: pa.Table, quarantined: pa.Table,
                         templates: pa.Table, stream_key: str, positions: dict[str, int],
                         check: Callable[[], None] | None) -> LiveWrite:
    try:
        con.execute("SET memory_limit = ?", [DEFAULT_LIVE_MEMORY])  # fails if DuckDB holds more already
        return _write_live_batch(con, rows, quarantined, templates, stream_key, positions, check)
    except (duckdb.OutOfMemoryException, duckdb.TransactionException) as err:
        # A write that ran out (or whose COMMIT did) was rolled back: nothing of it is stored.
        if isinstance(err, duckdb.TransactionException) and "memory" not in str(err).lower():
            raise
        if isinstance(err, duckdb.TransactionException):
            with suppress(duckdb.Error):  # a failed COMMIT may have ended the transaction itself
                con.execute("ROLLBACK")
        con.execute("SET memory_limit = ?", [LARGE_LIVE_MEMORY])
        return _write_live_batch(con, rows, quarantined, templates, stream_key, positions, check)


def _write_live_batch(con: duckdb.DuckDBPyConnection, rows: pa.Table, quarantined: pa.Table,
                      templates: pa.Table, stream_key: str, positions: dict[str, int],
                      check: Callable[[], None] | None = None) -> LiveWrite:
    with transaction(con):
        if check is not None:  # while this transaction holds the file, no purge can pass the tables
            check()
        con.register("batch_rows", rows)
        con.register("batch_bad", quarantined)
        con.register("batch_templates", templates)
        # Against every tier (a re-run after tiering must not store a row again); the partition and offset
        # bounds let DuckDB skip row groups and warm files that cannot hold the batch's rows.
        con.execute("""
            CREATE OR REPLACE TEMP TABLE live_new_rows AS SELECT b.* FROM batch_rows b
            WHERE b.log_id NOT IN (
                SELECT log_id FROM logs_all
                WHERE partition_key IN (SELECT DISTINCT partition_key FROM batch_rows)
                  AND line_no BETWEEN (SELECT min(line_no) FROM batch_rows) AND (SELECT max(line_no) FROM batch_rows))
        """)
        # T1 as committed now: a bootstrap load may have raised it since the batch was decoded.
        (late,), = con.execute("""
            DELETE FROM live_new_rows n USING ingest_watermarks w
            WHERE w.source = n.source AND w.bootstrap_t1 IS NOT NULL AND n.ts <= w.bootstrap_t1
        """).fetchall()
        con.execute("CREATE OR REPLACE TEMP TABLE live_new_bad AS SELECT b.* FROM batch_bad b "
                    "ANTI JOIN quarantine q ON q.partition_key = b.partition_key AND q.line_no = b.line_no")
        names, bad_names = ", ".join(LOGS_STORED), ", ".join(QUARANTINE_STORED)
        (inserted,), = con.execute(f"INSERT INTO logs ({names}) SELECT {names} FROM live_new_rows").fetchall()
        (bad,), = con.execute(f"INSERT INTO quarantine ({bad_names}) SELECT {bad_names} FROM live_new_bad").fetchall()
        con.execute("""
            INSERT INTO templates (template_id, source, template, regex, count, first_seen, last_seen, example)
            SELECT t.template_id, t.source, t.template, t.regex, coalesce(s.n, 0), s.first_seen, s.last_seen,
                   t.example
            FROM batch_templates t LEFT JOIN (
                SELECT template_id, count(*) AS n, min(ts) AS first_seen, max(ts) AS last_seen
                FROM live_new_rows GROUP BY template_id) s USING (template_id)
            ON CONFLICT (template_id) DO UPDATE SET
                template = excluded.template, regex = excluded.regex, count = count + excluded.count,
                first_seen = least(first_seen, excluded.first_seen),
                last_seen = greatest(last_seen, excluded.last_seen)
        """)
        con.execute("""
            INSERT INTO landing_files
            SELECT partition_key, NULL, sum(lines), 0, sum(records), sum(record_lines), sum(bad_lines),
                   min(min_ts), max(max_ts), now()
            FROM (SELECT partition_key, n_lines AS lines, 1 AS records, n_lines AS record_lines, 0 AS bad_lines,
                         ts AS min_ts, ts AS max_ts FROM live_new_rows
                  UNION ALL
                  SELECT partition_key, n_lines, 0, 0, n_lines, NULL, NULL FROM live_new_bad)
            GROUP BY partition_key
            ON CONFLICT (partition_key) DO UPDATE SET
                lines_read = lines_read + excluded.lines_read, records = records + excluded.records,
                record_lines = record_lines + excluded.record_lines,
                quarantined_lines = quarantined_lines + excluded.quarantined_lines,
                min_ts = least(min_ts, excluded.min_ts), max_ts = greatest(max_ts, excluded.max_ts),
                loaded_at = excluded.loaded_at
        """)
        current = live_positions(con, stream_key)
        merged = {**current, **{k: max(v, current.get(k, v)) for k, v in positions.items()}}
        changed = merged != current
        if changed:
            con.execute("""
                INSERT INTO ingest_watermarks (source, bootstrap_t1, live_offsets, updated_at)
                VALUES (?, NULL, ?::JSON, now())
                ON CONFLICT (source) DO UPDATE SET live_offsets = excluded.live_offsets, updated_at = now()
            """, [LIVE_STREAM_PREFIX + stream_key, json.dumps({"positions": merged}, sort_keys=True)])
        con.execute("DROP TABLE live_new_rows")
        con.execute("DROP TABLE live_new_bad")
        for name in ("batch_rows", "batch_bad", "batch_templates"):
            con.unregister(name)
    return LiveWrite(int(inserted), int(bad), rows.num_rows - int(inserted) - int(late),
                     quarantined.num_rows - int(bad), changed, int(late))


def live_row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows per ingest mode, and how many live log_ids are stored more than once (must be 0)."""
    by_mode = dict(con.execute("SELECT ingest_mode, count(*) FROM logs_all GROUP BY ALL").fetchall())
    twice, = con.execute("SELECT count(*) FROM (SELECT log_id FROM logs_all WHERE ingest_mode = 'live' "
                         "GROUP BY log_id HAVING count(*) > 1)").fetchone()
    return {"bootstrap": int(by_mode.get("bootstrap", 0)), "live": int(by_mode.get("live", 0)),
            "live_stored_twice": int(twice)}


def unlabelled_templates(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT count(*) FROM templates WHERE label IS NULL").fetchone()[0])


# --- tiers -----------------------------------------------------------------------------------------------


def refresh_views(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild logs_all (hot + warm files) and logs_archive (+ cold files) from `tier_files`. A cold tier
    DuckDB cannot read here (object storage without the httpfs extension) is left out of logs_archive;
    LogPilot's own readers attach it (`attach_cold`). Called inside the transaction that changes the list."""
    def files(tier: str) -> list[str]:
        return [p for p, in con.execute("SELECT path FROM tier_files WHERE tier = ? ORDER BY path",
                                        [tier]).fetchall()]

    def part(paths: list[str]) -> str:
        if not paths:
            return ""
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in paths)
        return f" UNION ALL BY NAME SELECT * EXCLUDE (month) FROM read_parquet([{listed}], union_by_name = true)"
    cold = files("cold")
    con.execute(f"CREATE OR REPLACE VIEW logs_all AS SELECT * FROM logs{part(files('warm'))}")
    readable = not any("://" in p for p in cold)
    con.execute(f"CREATE OR REPLACE VIEW logs_archive AS SELECT * FROM logs_all{part(cold) if readable else ''}")
    con.execute(LABELLED_VIEW)


def attach_cold(con: duckdb.DuckDBPyConnection, dataset) -> None:
    """Make a cold tier on object storage (a pyarrow dataset) part of logs_archive for this connection."""
    con.register("cold_logs", dataset)
    con.execute("CREATE OR REPLACE TEMP VIEW logs_archive AS SELECT * FROM main.logs_all "
                "UNION ALL BY NAME SELECT * EXCLUDE (month) FROM cold_logs")


def begin_move(con: duckdb.DuckDBPyConnection, move_id: str, tier: str, plan: dict) -> None:
    with transaction(con):
        con.execute("INSERT INTO tier_moves VALUES (?, ?, 'writing', ?, now(), NULL)",
                    [move_id, tier, json.dumps(plan)])


def unfinished_moves(con: duckdb.DuckDBPyConnection, tier: str) -> list[tuple[str, str, dict]]:
    return [(m, s, json.loads(p)) for m, s, p in con.execute(
        "SELECT move_id, state, plan FROM tier_moves WHERE tier = ? AND state IN ('writing', 'committed') "
        "ORDER BY started_at", [tier]).fetchall()]


def finish_move(con: duckdb.DuckDBPyConnection, move_id: str, state: str) -> None:
    with transaction(con):
        con.execute("UPDATE tier_moves SET state = ?, finished_at = now() WHERE move_id = ?", [state, move_id])


def hot_rows_to_warm(con: duckdb.DuckDBPyConnection, cutoff: datetime, folder: Path, move_id: str,
                     memory_limit: str = DEFAULT_LOAD_MEMORY) -> None:
    """Write hot rows older than `cutoff` as Parquet partitioned by source and month (zstd). A day per file
    would make thousands of tiny files (sources × days) that every query over logs_all opens. DuckDB's memory
    is capped as in the bulk load: a partitioned write otherwise buffers with the input."""
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET memory_limit = ?", [memory_limit])
    try:
        _copy_to_warm(con, cutoff, folder, move_id)
    finally:
        con.execute("RESET memory_limit")


def _copy_to_warm(con: duckdb.DuckDBPyConnection, cutoff: datetime, folder: Path, move_id: str) -> None:
    con.execute(f"""
        COPY (SELECT *, strftime(ts AT TIME ZONE 'UTC', '%Y-%m') AS month FROM logs
              WHERE ts < '{cutoff.isoformat()}'::TIMESTAMPTZ)
        TO '{_quoted(folder)}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (source, month),
                              WRITE_PARTITION_COLUMNS true, FILENAME_PATTERN 'part-{move_id}-{{i}}')
    """)


def parquet_summary(con: duckdb.DuckDBPyConnection, files: list[str]) -> list[tuple]:
    """(file, source, min_ts, max_ts, rows, lines) per Parquet file."""
    return con.execute("""
        SELECT filename, any_value(source), min(ts), max(ts), count(*), sum(n_lines)
        FROM read_parquet(?, filename = true, union_by_name = true) GROUP BY filename
    """, [files]).fetchall()


def hot_rows_before(con: duckdb.DuckDBPyConnection, cutoff: datetime) -> int:
    return int(con.execute("SELECT count(*) FROM logs WHERE ts < ?", [cutoff]).fetchone()[0])


def save_move_plan(con: duckdb.DuckDBPyConnection, move_id: str, plan: dict) -> None:
    with transaction(con):
        con.execute("UPDATE tier_moves SET plan = ? WHERE move_id = ?", [json.dumps(plan), move_id])


def commit_warm_move(con: duckdb.DuckDBPyConnection, move_id: str, files: list[str], catalog: list[tuple],
                     expected: int) -> int:
    """In one transaction: drop the copied rows from `logs` (by log_id, so a row added since is never lost),
    list the new files (already in their final places) in `tier_files` and the views, mark the move committed."""
    with transaction(con):
        (deleted,), = con.execute("DELETE FROM logs WHERE log_id IN (SELECT log_id FROM read_parquet(?))",
                                  [files]).fetchall()
        if deleted != expected:  # rolled back: the rows stay hot
            raise RuntimeError(f"warm move {move_id}: {deleted} hot rows match the files, expected {expected}")
        _add_tier_files(con, "warm", catalog)
        refresh_views(con)
        con.execute("UPDATE tier_moves SET state = 'committed' WHERE move_id = ?", [move_id])
    return int(deleted)


def commit_cold_move(con: duckdb.DuckDBPyConnection, move_id: str, removed: list[str], catalog: list[tuple]) -> None:
    with transaction(con):
        con.execute("DELETE FROM tier_files WHERE path IN (SELECT unnest(?::VARCHAR[]))", [removed])
        _add_tier_files(con, "cold", catalog)
        refresh_views(con)
        con.execute("UPDATE tier_moves SET state = 'committed' WHERE move_id = ?", [move_id])


def _add_tier_files(con: duckdb.DuckDBPyConnection, tier: str, catalog: list[tuple]) -> None:
    """catalog rows: (path, source, min_ts, max_ts, rows, lines, bytes)."""
    con.executemany("INSERT OR REPLACE INTO tier_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, now())",
                    [(path, tier, *rest) for path, *rest in catalog])


def tier_files(con: duckdb.DuckDBPyConnection, tier: str, before: datetime | None = None) -> list[tuple]:
    """(path, source, min_ts, max_ts, rows, lines, bytes) of a tier's files, those wholly older than `before`."""
    query = "SELECT path, source, min_ts, max_ts, rows, lines, bytes FROM tier_files WHERE tier = ?"
    args: list = [tier]
    if before is not None:
        query += " AND max_ts < ?"
        args.append(before)
    return con.execute(query + " ORDER BY source, min_ts", args).fetchall()


def update_tier_file(con: duckdb.DuckDBPyConnection, path: str, rows: int, lines: int, size: int,
                     purged: Callable[[duckdb.DuckDBPyConnection], None] | None = None) -> None:
    """The catalog entry of a rewritten tier file, with `purged` (recording what was removed) in its transaction."""
    with transaction(con):
        con.execute("UPDATE tier_files SET rows = ?, lines = ?, bytes = ? WHERE path = ?", [rows, lines, size, path])
        if purged is not None:
            purged(con)


def tier_stats(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    """Rows, bytes and the oldest row per tier (hot from `logs`; bytes of hot are DuckDB's estimate)."""
    hot_rows, hot_oldest = con.execute("SELECT count(*), min(ts) FROM logs").fetchone()
    blocks, = con.execute("SELECT count(DISTINCT block_id) FROM pragma_storage_info('logs') "
                          "WHERE block_id IS NOT NULL").fetchone()
    block_size, = con.execute("SELECT block_size FROM pragma_database_size()").fetchone()
    stats = {"hot": {"rows": int(hot_rows), "bytes": int(blocks) * int(block_size),
        "oldest": hot_oldest.isoformat() if hot_oldest else None, "files": 0}}
    for tier in ("warm", "cold"):
        rows, size, oldest, files = con.execute("SELECT coalesce(sum(rows), 0), coalesce(sum(bytes), 0), min(min_ts), "
                                                "count(*) FROM tier_files WHERE tier = ?", [tier]).fetchone()
        stats[tier] = {"rows": int(rows), "bytes": int(size), "oldest": oldest.isoformat() if oldest else None,
                       "files": int(files)}
    return stats


def rewrite_database(path: Path, timeout_s: float = WAREHOUSE_WAIT_S) -> None:
    """Copy the warehouse into a fresh file and swap it in: DuckDB keeps deleted rows' bytes in free blocks, and
    a purge must leave none.

    The old file stays attached for writing from before the copy until after the swap, so no other process
    can open it meanwhile (readers wait, as for any writer): a live batch committed into it would be lost with
    it. Waits up to `timeout_s` for a process that holds the file now. The copy's files are removed if it
    fails (they hold the tables' text)."""
    fresh = path.with_name(path.name + ".rewrite")
    leftovers = (fresh, fresh.with_name(fresh.name + ".wal"))
    for leftover in leftovers:  # from a rewrite that crashed
        leftover.unlink(missing_ok=True)
    with duckdb.connect() as con:
        when_free(lambda: con.execute(f"ATTACH '{_quoted(path)}' AS old"), f"the warehouse ({path})", timeout_s)
        try:
            con.execute("CHECKPOINT old")  # nothing left in its WAL: the copy reads everything from the file
            con.execute(f"ATTACH '{_quoted(fresh)}' AS fresh")
            try:
                con.execute("COPY FROM DATABASE old TO fresh")
            finally:
                con.execute("DETACH fresh")
            os.replace(fresh, path)
        finally:
            for leftover in leftovers:
                leftover.unlink(missing_ok=True)
            con.execute("DETACH old")


def record_purge(con: duckdb.DuckDBPyConnection, request_id: str, subject_hash: str, rows: int, vectors: int,
                 files: int, lines: int, per_sink: dict, seconds: float) -> None:
    with transaction(con):
        con.execute("INSERT OR REPLACE INTO purge_audit (request_id, subject, requested_at, rows_deleted, "
                    "vectors_deleted, files_rewritten, lines_purged, per_sink, duration_s) "
                    "VALUES (?, ?, now(), ?, ?, ?, ?, ?, ?)",
                    [request_id, subject_hash, rows, vectors, files, lines, json.dumps(per_sink), seconds])


def record_purged(con: duckdb.DuckDBPyConnection, request_id: str, sink: str, removed: pa.Table) -> None:
    """Ledger rows for `removed` (rows a purge takes out of `sink`, with their partition_key and n_lines), one
    per landing file; called inside the transaction (or before the catalog update) that removes them."""
    con.register("purged_rows", removed.select(["partition_key", "n_lines"]))
    try:
        con.execute("INSERT INTO purged_lines SELECT ?, partition_key, ?, count(*), coalesce(sum(n_lines), 0), now() "
                    "FROM purged_rows GROUP BY partition_key", [request_id, sink])
    finally:
        con.unregister("purged_rows")


def record_purged_unknown(con: duckdb.DuckDBPyConnection, request_id: str, sink: str, rows: int,
                          lines: int) -> None:
    """Rows removed whose landing files are no longer known (a tier file rewritten by a run killed before its
    catalog entry followed)."""
    con.execute("INSERT INTO purged_lines VALUES (?, NULL, ?, ?, ?, now())", [request_id, sink, rows, lines])


def purged_by(con: duckdb.DuckDBPyConnection, request_id: str) -> tuple[dict[str, int], int, set[str]]:
    """What the ledger holds of a request: rows per sink, lines, and the landing files it removed rows of."""
    found = con.execute("SELECT sink, partition_key, rows, lines FROM purged_lines WHERE request_id = ?",
                        [request_id]).fetchall()
    per_sink: dict[str, int] = {}
    for sink, _, rows, _ in found:
        per_sink[sink] = per_sink.get(sink, 0) + int(rows)
    return per_sink, sum(int(lines) for *_, lines in found), {key for _, key, _, _ in found if key is not None}


def purge_recorded(con: duckdb.DuckDBPyConnection, request_id: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM purge_audit WHERE request_id = ?", [request_id]).fetchone()[0])


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def has_watermarks_table(con: duckdb.DuckDBPyConnection) -> bool:
    """A read-only reader cannot create the schema: whether the bootstrap has made this table yet."""
    return has_table(con, "ingest_watermarks")


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]).fetchone()[0])


def live_rows_at_or_before_t1(con: duckdb.DuckDBPyConnection) -> int:
    """Live rows that the bootstrap should have had: zero when the cutover is exactly once."""
    return int(con.execute("SELECT count(*) FROM logs l JOIN ingest_watermarks w USING (source) "
                           "WHERE l.ingest_mode = 'live' AND l.ts <= w.bootstrap_t1").fetchone()[0])


def message_stored(con: duckdb.DuckDBPyConnection, source: str, message: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM logs WHERE source = ? AND message = ?",
                            [source, message]).fetchone()[0])
