"""The DuckDB tables LogPilot writes. Their names and columns are an interface: CLI, API and tests use them."""

from __future__ import annotations

import duckdb

TABLES = """
CREATE TABLE IF NOT EXISTS logs (
    log_id        VARCHAR NOT NULL,   -- stable: hash of source, landing file and line
    ts            TIMESTAMPTZ NOT NULL,
    source        VARCHAR NOT NULL,
    level         VARCHAR,
    component     VARCHAR,
    message       VARCHAR NOT NULL,   -- personal data masked
    template_id   VARCHAR,
    params        VARCHAR[],
    kv            MAP(VARCHAR, VARCHAR),
    ingest_mode   VARCHAR NOT NULL,   -- bootstrap | live
    origin        VARCHAR NOT NULL,   -- file:line, or topic/partition/offset
    partition_key VARCHAR NOT NULL,   -- the landing file (bootstrap) or stream batch (live) it came from
    line_no       BIGINT,
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


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create what is missing. Every writer calls this first, so it also quiets DuckDB's progress bar,
    which would otherwise fill batch-run logs."""
    con.execute("SET enable_progress_bar = false")
    con.execute(TABLES)
