"""The guard every question's SQL passes: people's (`logpilot sql`), the semantic parser's and the LLM's.

A statement is parsed with sqlglot (DuckDB dialect) and must be exactly one read-only query over LogPilot's
tables and views (`schema.READABLE`, plus the query's own CTEs): no DDL or DML, no PRAGMA, SET, ATTACH, COPY,
INSTALL, LOAD, EXPORT, no `SELECT … INTO`, no table functions, no functions that read files, URLs, settings
or the environment. What runs is the SQL regenerated from the checked tree, never the text as typed, so a
difference between the two parsers cannot smuggle a second statement past the check.

It then runs on a read-only connection with external access disabled (only the warm and cold tier folders
may be read, for the views over them) and the configuration locked, a row limit and a timeout.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from logpilot_dagster.ask.schema import READABLE
from logpilot_dagster.store.layout import HomeLayout
from logpilot_dagster.store.locks import WAREHOUSE_WAIT_S, when_free

DEFAULT_ROW_LIMIT = 1_000
DEFAULT_TIMEOUT_S = 10.0
MAX_SQL_CHARS = 20_000
# Root nodes that are a read-only query; anything else (Command, Pragma, Set, Copy, Describe, …) is refused.
_QUERY_ROOTS = (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Subquery)
_WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Create, exp.Drop, exp.Alter, exp.Merge, exp.Copy,
           exp.Command, exp.Set, exp.Pragma, exp.Attach, exp.Detach, exp.Use, exp.Into, exp.Transaction,
           exp.Commit, exp.Rollback, exp.LoadData, exp.Describe, exp.Summarize, exp.Install, exp.Export)
# Functions that reach outside the warehouse (files, URLs, other databases, settings, the environment) or run
# SQL given as a string; matched on the parsed function name.
_FORBIDDEN_FUNCTION = re.compile(
    r"^(read_\w+|\w+_scan|scan_\w+|glob|query|query_table|getenv|sniff_csv|parquet_\w+|json_execute_\w+|"
    r"duckdb_\w+|pragma_\w+|iceberg_\w+|delta_\w+|sqlite_\w+|postgres_\w+|mysql_\w+|http\w*|install\w*|"
    r"load\w*|checkpoint|force_checkpoint|which_secret|current_setting|set_\w+|enable_\w+|disable_\w+|"
    r"system|shell|copy\w*|export\w*|import\w*|attach|detach|write_\w+|to_file|from_file)$")


class SqlRefused(ValueError):
    """The statement is not one read-only query over LogPilot's tables; the message says why, in one line."""


@dataclass(frozen=True)
class CheckedQuery:
    sql: str  # regenerated from the checked tree: what runs
    relations: tuple[str, ...]  # LogPilot tables and views it reads


@dataclass
class QueryResult:
    sql: str
    columns: list[str]
    rows: list[list]
    truncated: bool = False
    seconds: float = 0.0
    relations: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return {"sql": self.sql, "columns": self.columns, "rows": self.rows, "truncated": self.truncated}


def check_sql(sql: str, readable: Iterable[str] = READABLE) -> CheckedQuery:
    """One read-only query over `readable` relations, or `SqlRefused` saying why."""
    if not isinstance(sql, str) or not sql.strip():
        raise SqlRefused("empty statement: give one SELECT")
    if len(sql) > MAX_SQL_CHARS:
        raise SqlRefused(f"statement of {len(sql):,} characters is over the limit of {MAX_SQL_CHARS:,}")
    if "\x00" in sql:
        raise SqlRefused("statement holds a NUL byte")
    try:
        trees = [t for t in sqlglot.parse(sql, read="duckdb") if t is not None]
    except SqlglotError as err:
        raise SqlRefused(f"not a statement LogPilot can check: {_first_line(err)}") from err
    if len(trees) != 1:
        raise SqlRefused(f"{len(trees)} statements: exactly one SELECT is allowed" if trees else
                         "empty statement: give one SELECT")
    tree = trees[0]
    if not isinstance(tree, _QUERY_ROOTS):
        raise SqlRefused(f"only a read-only SELECT is allowed, not {_kind(tree)}")
    readable = {r.lower() for r in readable}
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    relations: set[str] = set()
    for node in tree.walk():
        if isinstance(node, _WRITES):
            raise SqlRefused(f"only a read-only SELECT is allowed: it contains {_kind(node)}")
        if isinstance(node, exp.Select) and node.args.get("into"):
            raise SqlRefused("SELECT … INTO writes a table: only a read-only SELECT is allowed")
        if isinstance(node, exp.Table):
            relations.add(_checked_table(node, readable, ctes))
        elif isinstance(node, exp.Func):
            name = _function_name(node)
            if _FORBIDDEN_FUNCTION.match(name):
                raise SqlRefused(f"function {name}() is not allowed: questions read LogPilot's tables only")
    relations.discard("")
    try:
        regenerated = tree.sql(dialect="duckdb", comments=False)  # comments could hide text from a reader
    except SqlglotError as err:
        raise SqlRefused(f"not a statement LogPilot can check: {_first_line(err)}") from err
    return CheckedQuery(regenerated, tuple(sorted(relations)))


def _checked_table(node: exp.Table, readable: set[str], ctes: set[str]) -> str:
    if not isinstance(node.this, exp.Identifier):  # read_csv(…), glob(…), range(…) in FROM
        raise SqlRefused(f"table function {node.this.sql(dialect='duckdb')[:60]} is not allowed: "
                         "questions read LogPilot's tables only")
    if node.catalog or (node.db and node.db.lower() != "main"):
        raise SqlRefused(f"{node.sql(dialect='duckdb')[:60]}: only LogPilot's own tables can be read "
                         "(no other database or schema)")
    name = node.name.lower()
    if name in ctes and not node.db:
        return ""
    if name not in readable:
        raise SqlRefused(f"{node.name[:60]!r} is not one of LogPilot's tables or views "
                         f"({', '.join(sorted(readable))})")
    return name


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


def _kind(node: exp.Expression) -> str:
    if isinstance(node, exp.Command):
        return f"a {str(node.this).upper()} command"
    return f"a {type(node).__name__.upper()} statement" if node.parent is None else type(node).__name__.upper()


def _first_line(err: Exception) -> str:
    text = " ".join(str(err).split())
    return re.sub(r"\x1b\[[0-9;]*m", "", text)[:160]


# --- running ------------------------------------------------------------------------------------------


def connect_guarded(layout: HomeLayout, threads: int = 2, memory_limit: str = "512MB") -> duckdb.DuckDBPyConnection:
    """A read-only warehouse connection that cannot read files (but the tier folders), change its settings,
    attach, install or load anything."""
    if not layout.duckdb.is_file():
        raise FileNotFoundError(f"no warehouse at {layout.duckdb}: run `logpilot bootstrap` (or `make run`) first")
    config = {"threads": threads, "memory_limit": memory_limit, "autoinstall_known_extensions": False,
              "autoload_known_extensions": False}
    # A live batch holds the file for about a second: waited for, like every other connection to it.
    con = when_free(lambda: duckdb.connect(str(layout.duckdb), read_only=True, config=config),
                    f"the warehouse ({layout.duckdb})", WAREHOUSE_WAIT_S)
    try:
        # The views over the warm and cold tiers read Parquet there; nothing else on disk is reachable.
        tiers = [str(p) + "/" for p in (layout.warm, layout.cold)]
        con.execute("SET allowed_directories = ?", [tiers])
        con.execute("SET enable_external_access = false")
        con.execute("SET enable_progress_bar = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def run_checked(con: duckdb.DuckDBPyConnection, query: CheckedQuery, row_limit: int = DEFAULT_ROW_LIMIT,
                timeout_s: float = DEFAULT_TIMEOUT_S) -> QueryResult:
    """Run a checked query; at most `row_limit` rows come back, and a timer interrupts it after `timeout_s`."""
    started = time.perf_counter()
    timer = threading.Timer(timeout_s, con.interrupt)
    timer.daemon = True
    timer.start()
    try:
        cursor = con.execute(query.sql)
        columns = [d[0] for d in cursor.description or []]
        fetched = cursor.fetchmany(row_limit + 1)
    except duckdb.InterruptException as err:
        raise QueryTimeout(f"the query ran longer than {timeout_s:g}s and was stopped") from err
    finally:
        timer.cancel()
    rows = [[_plain(v) for v in row] for row in fetched[:row_limit]]
    return QueryResult(query.sql, columns, rows, truncated=len(fetched) > row_limit,
                       seconds=time.perf_counter() - started, relations=query.relations)


class QueryTimeout(RuntimeError):
    pass


def run_sql(layout: HomeLayout, sql: str, row_limit: int = DEFAULT_ROW_LIMIT,
            timeout_s: float = DEFAULT_TIMEOUT_S) -> QueryResult:
    """Check, then run on a fresh guarded connection. `SqlRefused` for a statement the guard refuses;
    `duckdb.Error` for one DuckDB cannot run (a misspelt column)."""
    checked = check_sql(sql)
    with connect_guarded(layout) as con:
        return run_checked(con, checked, row_limit, timeout_s)


def _plain(value):
    """JSON-ready values: timestamps as ISO text, decimals as floats, maps and structs as dicts."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value
