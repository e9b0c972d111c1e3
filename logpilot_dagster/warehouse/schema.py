"""The DuckDB tables LogPilot writes. Their names and columns are an interface: CLI, API and tests use them.

`logs` is shaped for bulk-load speed (the load is bound by DuckDB compressing columns as it writes them):
`log_id` is an integer rather than a hex string, `origin` is computed from `partition_key` and `line_no`
instead of stored (filter on those two to find a line fast: a computed column has no min/max zone maps),
`message` is zstd-compressed (faster to write than dictionary+FSST, and smaller), and the short strings
in `params` are stored uncompressed (compressing them cost more than the rest of the row).
"""

from __future__ import annotations

import duckdb

TABLES = """
CREATE TABLE IF NOT EXISTS logs (
    log_id        UBIGINT NOT NULL,   -- stable: 64-bit hash of source, landing file and line
    ts            TIMESTAMPTZ NOT NULL,
    source        VARCHAR NOT NULL,
    level         VARCHAR,
    component     VARCHAR,
    message       VARCHAR USING COMPRESSION zstd NOT NULL,  -- personal data masked
    template_id   VARCHAR,
    params        VARCHAR[] USING COMPRESSION uncompressed,
    kv            MAP(VARCHAR, VARCHAR),
    ingest_mode   VARCHAR NOT NULL,   -- bootstrap | live
    origin        VARCHAR GENERATED ALWAYS AS (partition_key || ':' || line_no) VIRTUAL,  -- file:line
    partition_key VARCHAR NOT NULL,   -- the landing file (bootstrap) or stream batch (live) it came from
    line_no       BIGINT,             -- line in the landing file, or the stream offset
    n_lines       INTEGER NOT NULL    -- physical lines in the record (stack traces span several)
);
CREATE TABLE IF NOT EXISTS quarantine (
    partition_key VARCHAR NOT NULL,
    source        VARCHAR,
    origin        VARCHAR NOT NULL,
    line_no       BIGINT,
    n_lines       INTEGER NOT NULL,
    reason        VARCHAR NOT NULL,
    detail        VARCHAR,
    raw_b64       VARCHAR,            -- the line's bytes, personal data masked, first 64 KiB
    raw_size      BIGINT
);
CREATE TABLE IF NOT EXISTS landing_files (
    partition_key     VARCHAR PRIMARY KEY,
    source            VARCHAR,
    lines_read        BIGINT NOT NULL,
    header_lines      BIGINT NOT NULL,
    records           BIGINT NOT NULL,
    record_lines      BIGINT NOT NULL,
    quarantined_lines BIGINT NOT NULL,
    min_ts            TIMESTAMPTZ,
    max_ts            TIMESTAMPTZ,
    loaded_at         TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS templates (
    template_id      VARCHAR PRIMARY KEY,
    source           VARCHAR NOT NULL,
    template         VARCHAR NOT NULL,
    regex            VARCHAR NOT NULL,
    count            BIGINT NOT NULL,
    first_seen       TIMESTAMPTZ,
    last_seen        TIMESTAMPTZ,
    label            VARCHAR,
    label_confidence DOUBLE,
    label_tier       VARCHAR,         -- rules | model | llm | human | unclassified
    example          VARCHAR          -- masked
);
CREATE TABLE IF NOT EXISTS system_catalog (
    system_name VARCHAR PRIMARY KEY,
    department  VARCHAR,
    owner_email VARCHAR,
    criticality VARCHAR
);
CREATE TABLE IF NOT EXISTS ingest_watermarks (
    source        VARCHAR PRIMARY KEY,
    bootstrap_t1  TIMESTAMPTZ,        -- newest timestamp loaded by the bootstrap: live starts after it
    live_offsets  JSON,               -- stream offsets committed with the rows they produced
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS purge_audit (
    request_id   VARCHAR PRIMARY KEY,
    subject      VARCHAR NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL,
    rows_deleted BIGINT,
    vectors_deleted BIGINT,
    files_rewritten BIGINT
);
CREATE OR REPLACE VIEW logs_all AS SELECT * FROM logs;
CREATE OR REPLACE VIEW logs_labelled AS
    SELECT l.*, coalesce(t.label, 'unclassified') AS label, t.label_confidence, t.label_tier
    FROM logs l LEFT JOIN templates t USING (template_id);
"""

# The columns `logs` stores: all but the computed origin.
LOGS_STORED = ("log_id", "ts", "source", "level", "component", "message", "template_id", "params", "kv",
               "ingest_mode", "partition_key", "line_no", "n_lines")


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create what is missing. Every writer calls this first, so it also quiets DuckDB's progress bar,
    which would otherwise fill batch-run logs."""
    con.execute("SET enable_progress_bar = false")
    _migrate_logs(con)
    con.execute(TABLES)


def _migrate_logs(con: duckdb.DuckDBPyConnection) -> None:
    """Rewrite a `logs` table of the earlier layout (hex-string log_id, stored origin) into the current one.

    The ids keep their value (the hex digits read as a number) and origin was always partition_key:line_no.
    """
    found = con.execute("SELECT data_type FROM duckdb_columns() WHERE database_name = current_database() "
                        "AND schema_name = 'main' AND table_name = 'logs' AND column_name = 'log_id'").fetchall()
    if not found or found[0][0] != "VARCHAR":
        return
    columns = ", ".join(c for c in LOGS_STORED if c != "log_id")
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DROP VIEW IF EXISTS logs_labelled")
        con.execute("DROP VIEW IF EXISTS logs_all")
        con.execute("ALTER TABLE logs RENAME TO logs_before_migration")
        con.execute(TABLES)
        con.execute(f"INSERT INTO logs (log_id, {columns}) SELECT ('0x' || log_id)::UBIGINT, {columns} "
                    "FROM logs_before_migration").fetchall()
        con.execute("DROP TABLE logs_before_migration")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
