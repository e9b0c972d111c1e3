"""The DuckDB tables LogPilot writes, and every SQL statement that reads or writes them.

Table and column names are an interface: the CLI, the API and tests use them. `logs` is shaped for bulk-load
speed (the load is bound by DuckDB compressing columns as it writes them): `log_id` is an integer rather than
a hex string, `origin` is computed from `partition_key` and `line_no` instead of stored (filter on those two
to find a line fast: a computed column has no min/max zone maps), `message` is zstd-compressed, and the short
strings in `params` are stored uncompressed (compressing them cost more than the rest of the row).

Writers go through `transaction()`; loads are idempotent (delete a partition's rows, insert, one transaction).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

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
)
TABLES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "logs": LOGS_COLUMNS, "quarantine": QUARANTINE_COLUMNS, "landing_files": LANDING_FILES_COLUMNS,
    "templates": TEMPLATES_COLUMNS, "system_catalog": SYSTEM_CATALOG_COLUMNS,
    "ingest_watermarks": INGEST_WATERMARKS_COLUMNS, "purge_audit": PURGE_AUDIT_COLUMNS,
}
VIEWS = """
CREATE OR REPLACE VIEW logs_all AS SELECT * FROM logs;
CREATE OR REPLACE VIEW logs_labelled AS
    SELECT l.*, coalesce(t.label, 'unclassified') AS label, t.label_confidence, t.label_tier
    FROM logs_all l LEFT JOIN templates t USING (template_id);
"""
# The columns `logs` stores: all but the computed origin.
LOGS_STORED = tuple(name for name, kind, _ in LOGS_COLUMNS if "GENERATED" not in kind)
QUARANTINE_STORED = tuple(name for name, _, _ in QUARANTINE_COLUMNS)

# Schema changes after the first release go here, in order, each run once (recorded in schema_version).
MIGRATIONS: tuple[str, ...] = ()

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


def connect(path: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """The warehouse; a writer gets the schema ensured."""
    if not read_only:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
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
                    memory_limit: str = DEFAULT_LOAD_MEMORY) -> LoadResult:
    """Replace the rows of these landing-file partitions with what their Parquet files hold."""
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
    """Lines read (less CSV headers) against lines stored in `logs_all` and lines quarantined."""
    read, = con.execute("SELECT coalesce(sum(lines_read - header_lines), 0) FROM landing_files").fetchone()
    stored, = con.execute("SELECT coalesce(sum(n_lines), 0) FROM logs_all").fetchone()
    quarantined, = con.execute("SELECT coalesce(sum(n_lines), 0) FROM quarantine").fetchone()
    return {"lines_read": int(read), "lines_stored": int(stored), "lines_quarantined": int(quarantined)}


def conserved(totals: dict[str, int]) -> bool:
    return totals["lines_read"] == totals["lines_stored"] + totals["lines_quarantined"]


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
