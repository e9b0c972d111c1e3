"""The SQL guard: one read-only SELECT over LogPilot's tables, parsed, run read-only with limits.

Each adversarial statement is refused (by the guard, or by the locked read-only connection if it ever got
that far) and the warehouse file and every file under the home are byte-for-byte unchanged afterwards.
"""

from __future__ import annotations

import json

import duckdb
import pytest
from support.ask_fixtures import ask_home, ask_home_copy, tree_fingerprint  # noqa: F401 (fixtures)

from logpilot_dagster.ask.guard import (
    QueryTimeout,
    SqlRefused,
    check_sql,
    connect_guarded,
    run_checked,
    run_sql,
)
from logpilot_dagster.cli import main

ADVERSARIAL = [
    "DROP TABLE logs",
    "DELETE FROM logs",
    "UPDATE templates SET label = 'x'",
    "INSERT INTO system_catalog VALUES ('x', 'y', 'z', 'low')",
    "CREATE TABLE stolen AS SELECT * FROM logs_all",
    "CREATE VIEW v AS SELECT 1",
    "CREATE MACRO m() AS 1",
    "ALTER TABLE logs ADD COLUMN x INT",
    "SELECT * INTO stolen FROM logs_all",
    "PRAGMA database_list",
    "PRAGMA enable_external_access",
    "SET enable_external_access = true",
    "RESET lock_configuration",
    "ATTACH '/tmp/other.duckdb' AS other",
    "DETACH logpilot",
    "COPY logs TO '/tmp/stolen.csv'",
    "COPY (SELECT * FROM logs_all) TO 'stolen.parquet' (FORMAT parquet)",
    "EXPORT DATABASE '/tmp/dump'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "FORCE INSTALL httpfs FROM 'http://example.com'",
    "CALL pragma_version()",
    "CHECKPOINT",
    "VACUUM",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_parquet('/work/**/*.parquet')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM 'https://example.com/data.csv'",
    "SELECT * FROM glob('/*')",
    "SELECT * FROM query('DROP TABLE logs')",
    "SELECT getenv('HOME')",
    "SELECT current_setting('enable_external_access')",
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM duckdb_secrets()",
    "SELECT * FROM sqlite_scan('/tmp/x.db', 't')",
    "SELECT 1; DROP TABLE logs",
    "SELECT 1;\nDELETE FROM templates;",
    "SELECT count(*) FROM logs_all /* ; */ ; DROP TABLE logs",
    "SELECT 1 -- harmless\n; ATTACH '/tmp/x.db'",
    "WITH x AS (DELETE FROM logs RETURNING *) SELECT * FROM x",
    "SELECT * FROM information_schema.tables",
    "SELECT * FROM system.main.duckdb_settings",
    "SELECT * FROM other.main.logs",
    "SELECT * FROM secrets",
    "DESCRIBE logs",
    "SUMMARIZE logs_all",
    "BEGIN TRANSACTION",
    "USE memory",
    "",
    "   ",
]


@pytest.mark.parametrize("statement", ADVERSARIAL)
def test_adversarial_statement_is_refused_and_nothing_changes(ask_home, statement, capsys) -> None:  # noqa: F811
    before = tree_fingerprint(ask_home.home)
    with pytest.raises(SqlRefused):
        check_sql(statement)
    # The CLI refuses with exit 2 and one line on stderr; no data on stdout.
    assert main(["sql", "--home", str(ask_home.home), statement]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("logpilot sql: ") and err.count("\n") == 1
    assert tree_fingerprint(ask_home.home) == before


@pytest.mark.parametrize("statement", [
    "SELECT source, count(*) AS n FROM logs_all GROUP BY source ORDER BY n DESC",
    "FROM logs_labelled SELECT label, count(*) GROUP BY ALL",
    "WITH e AS (SELECT * FROM logs_all WHERE level = 'ERROR') SELECT count(*) FROM e",
    "SELECT c.department, count(*) FROM logs_all l JOIN system_catalog c ON c.system_name = l.source GROUP BY 1",
    "SELECT template_id, template FROM main.templates ORDER BY count DESC LIMIT 3",
    "SELECT 1 UNION ALL SELECT 2",
])
def test_read_only_queries_run(ask_home, statement) -> None:  # noqa: F811
    before = tree_fingerprint(ask_home.home)
    result = run_sql(ask_home, statement)
    assert result.columns and result.rows
    assert tree_fingerprint(ask_home.home) == before


def test_the_connection_itself_refuses_what_the_guard_would(ask_home) -> None:  # noqa: F811
    """Defence in depth: were a statement to slip past the parser, the connection still cannot write, read
    files or change its settings."""
    before = tree_fingerprint(ask_home.home)
    with connect_guarded(ask_home) as con:
        for statement in ("DELETE FROM logs", "SELECT * FROM read_csv('/etc/passwd')",
                          "SET enable_external_access = true", "ATTACH '/tmp/x.duckdb'", "INSTALL httpfs"):
            with pytest.raises(duckdb.Error):
                con.execute(statement)
    assert tree_fingerprint(ask_home.home) == before


def test_what_runs_is_the_regenerated_statement() -> None:
    checked = check_sql("select /* hidden; DROP TABLE logs */ count(*) from logs_all -- ; DELETE FROM logs")
    assert "DROP" not in checked.sql.upper() and "DELETE" not in checked.sql.upper()
    assert checked.relations == ("logs_all",)


def test_row_limit_and_timeout(ask_home) -> None:  # noqa: F811
    result = run_sql(ask_home, "SELECT log_id FROM logs_all", row_limit=10)
    assert len(result.rows) == 10 and result.truncated
    slow = check_sql("SELECT count(*) FROM logs_all a, logs_all b, logs_all c, logs_all d")
    with connect_guarded(ask_home) as con, pytest.raises(QueryTimeout):
        run_checked(con, slow, timeout_s=0.3)


def test_sql_cli_prints_json(ask_home, capsys) -> None:  # noqa: F811
    assert main(["sql", "--home", str(ask_home.home), "--json",
                 "SELECT count(*) AS n FROM logs_all WHERE source = 'billing'"]) == 0
    answer = json.loads(capsys.readouterr().out)
    with duckdb.connect(str(ask_home.duckdb), read_only=True) as con:
        expected = con.execute("SELECT count(*) FROM logs_all WHERE source = 'billing'").fetchone()[0]
    assert answer["columns"] == ["n"] and answer["rows"] == [[expected]] and expected > 0


def test_a_misspelt_column_is_a_user_error(ask_home, capsys) -> None:  # noqa: F811
    assert main(["sql", "--home", str(ask_home.home), "SELECT sauce FROM logs_all"]) == 2
    assert "sauce" in capsys.readouterr().err


def test_views_over_the_tier_folders_stay_readable_and_nothing_else_does(ask_home_copy) -> None:  # noqa: F811
    """The warm tier is Parquet under warm/ that `logs_all` reads: the guarded connection may read there
    (and under cold/), nowhere else, even through a view."""
    layout = ask_home_copy
    warm = layout.warm / "x" / "part.parquet"
    outside = layout.home / "elsewhere.parquet"
    warm.parent.mkdir(parents=True)
    with duckdb.connect(str(layout.duckdb)) as con:
        hot, = con.execute("SELECT count(*) FROM logs").fetchone()
        for path in (warm, outside):
            con.execute(f"COPY (SELECT * EXCLUDE (origin) FROM logs LIMIT 7) TO '{path}' (FORMAT parquet)")
        con.execute(f"CREATE OR REPLACE VIEW logs_all AS SELECT * FROM logs UNION ALL BY NAME "
                    f"SELECT * FROM read_parquet('{warm}')")
        con.execute(f"CREATE OR REPLACE VIEW logs_archive AS SELECT * FROM logs_all UNION ALL BY NAME "
                    f"SELECT * FROM read_parquet('{outside}')")
    assert run_sql(layout, "SELECT count(*) FROM logs_all").rows == [[hot + 7]]
    with pytest.raises(duckdb.Error, match="(?i)permission|disabled"):
        run_sql(layout, "SELECT count(*) FROM logs_archive")
