"""Read-only questions the UI metadata, the CLI summary and the checks ask of the warehouse."""

from __future__ import annotations

import duckdb


def top_templates(con: duckdb.DuckDBPyConnection, limit: int) -> list[tuple[str, int, str]]:
    return con.execute("SELECT template_id, count, template FROM templates ORDER BY count DESC LIMIT ?",
                       [limit]).fetchall()


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
