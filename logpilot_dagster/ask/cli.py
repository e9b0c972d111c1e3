"""`logpilot sql`, `logpilot search` and `logpilot ask`: read the warehouse and the vector index in plain words.

Data goes to stdout (a table, or JSON with `--json`); messages go to stderr. A statement the guard refuses, a
missing warehouse or index, or an empty question exits 2 with one line that says why.
"""

from __future__ import annotations

import argparse
import json
import sys

from logpilot_dagster.store.layout import HOME_ENV, HomeLayout

SQL_EXAMPLES = """examples:
  logpilot sql "SELECT source, count(*) AS n FROM logs_all GROUP BY source ORDER BY n DESC"
  logpilot sql --json "SELECT label, count(*) FROM logs_labelled WHERE level = 'ERROR' GROUP BY ALL"
  logpilot sql --limit 20 "SELECT ts, message FROM logs_all WHERE source = 'billing' ORDER BY ts DESC"

One read-only SELECT over logs_all, logs_labelled, templates, system_catalog, quarantine, landing_files
(and logs, logs_archive). Anything else (writes, PRAGMA, SET, ATTACH, COPY, INSTALL, LOAD, file or URL
functions, a second statement) is refused with exit status 2 and the reason."""

SEARCH_EXAMPLES = """examples:
  logpilot search "the kernel killed a process because memory ran out"
  logpilot search --k 3 --json "database connection pool exhausted" | jq '.[0].template_id'
  logpilot search --runbooks "how do I renew an expired certificate"

Searches the templates' vector index (built by `make run`, asset template_vectors); --runbooks adds
passages of the Markdown runbooks in $LOGPILOT_HOME/runbooks (asset runbook_index)."""

ASK_EXAMPLES = """examples:
  logpilot ask "how many errors per source in March 2026?"
  logpilot ask "top 5 templates of billing"
  logpilot ask --json "how many security alerts on critical systems in the last 30 days?"
  logpilot ask "how do I fix a libvirt guest that fails to start?"

Numbers come from SQL over the warehouse (shown with the answer), explanations from the runbooks and
templates (cited). With an LLM endpoint ($LOGPILOT_LLM_BASE_URL) the LLM pilot answers; without one, or
with --no-llm, the built-in parser does, and says when a question is beyond it (try `logpilot sql`)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    sql = subparsers.add_parser("sql", help="run one read-only SELECT over the warehouse (guarded)",
                                epilog=SQL_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sql.add_argument("statement", help="one SELECT")
    _common(sql)
    sql.add_argument("--limit", type=int, default=1_000, help="at most this many rows (default 1,000)")
    sql.add_argument("--timeout", type=float, default=10.0, help="seconds before the query is stopped")
    sql.set_defaults(func=_sql)

    search = subparsers.add_parser("search", help="the templates (and runbook passages) nearest a description",
                                   epilog=SEARCH_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    search.add_argument("query", nargs="+", help="what you are looking for, in your own words")
    _common(search)
    search.add_argument("--k", type=int, default=5, help="how many results (default 5)")
    search.add_argument("--runbooks", action="store_true", help="also search the runbooks")
    search.set_defaults(func=_search)

    ask = subparsers.add_parser("ask", help="a question in plain language: answered from SQL or the runbooks",
                                epilog=ASK_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    ask.add_argument("question", nargs="+", help="the question")
    _common(ask)
    ask.add_argument("--no-llm", action="store_true", help="use the built-in parser even with an LLM endpoint")
    ask.set_defaults(func=_ask)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", help=f"LogPilot home (default ${HOME_ENV} or ./.logpilot)")
    parser.add_argument("--json", action="store_true", help="JSON on stdout")


def _fail(command: str, message: str) -> int:
    print(f"logpilot {command}: {message}", file=sys.stderr)
    return 2


def _sql(args: argparse.Namespace) -> int:
    import duckdb

    from logpilot_dagster.ask.guard import QueryTimeout, SqlRefused, run_sql

    if args.limit < 1:
        return _fail("sql", "--limit must be at least 1")
    try:
        result = run_sql(HomeLayout.from_env(args.home), args.statement, row_limit=args.limit,
                         timeout_s=args.timeout)
    except SqlRefused as err:
        return _fail("sql", f"refused: {err}")
    except (QueryTimeout, FileNotFoundError) as err:
        return _fail("sql", str(err))
    except duckdb.Error as err:
        return _fail("sql", " ".join(str(err).split())[:300])
    if args.json:
        print(json.dumps(result.to_dict(), default=str))
    else:
        print_table(result.columns, result.rows)
        if result.truncated:
            print(f"(first {args.limit:,} rows; --limit shows more)", file=sys.stderr)
    return 0


def _search(args: argparse.Namespace) -> int:
    from logpilot_dagster.vectors.index import IndexMissing, open_index

    query = " ".join(args.query).strip()
    if not query:
        return _fail("search", "empty query: describe what you are looking for")
    if not 1 <= args.k <= 100:
        return _fail("search", "--k must be between 1 and 100")
    try:
        index = open_index(HomeLayout.from_env(args.home))
        hits = index.search(query, k=args.k, runbooks=args.runbooks)
    except IndexMissing as err:
        return _fail("search", str(err))
    if args.json:
        print(json.dumps([h.to_dict() for h in hits]))
        return 0
    for hit in hits:
        if hit.kind == "template":
            print(f"{hit.score:.3f}  {hit.template_id:<18} {hit.source:<14} {hit.label or '-':<20} "
                  f"{hit.count:>8,}  {hit.template}")
        else:
            print(f"{hit.score:.3f}  runbook {hit.file}#{hit.heading}: {hit.text[:120]}")
    return 0


def _ask(args: argparse.Namespace) -> int:
    from logpilot_dagster.ask.engine import answer_question

    question = " ".join(args.question).strip()
    if not question:
        return _fail("ask", "empty question")
    layout = HomeLayout.from_env(args.home)
    if not layout.duckdb.is_file():
        return _fail("ask", f"no warehouse at {layout.duckdb}: run `logpilot bootstrap` (or `make run`) first")
    answer = answer_question(layout, question, use_llm=not args.no_llm)
    if args.json:
        print(json.dumps(answer.to_dict(), default=str))
        return 0 if answer.route != "unsupported" else 2
    print(answer.answer)
    if answer.sql:
        print(f"\nSQL: {answer.sql}", file=sys.stderr)
    if answer.rows and len(answer.rows) > 1 or (answer.rows and len(answer.columns) > 1):
        print()
        print_table(answer.columns, answer.rows)
    for source in answer.sources if answer.route == "rag" else ():  # search hits are the rows already
        text = (f"{source.get('title')} — {source.get('heading')}" if source.get("kind") == "runbook"
                else f"{source.get('source')}: {source.get('template')}")
        print(f"  [{source.get('id')}] {' '.join(text.split())[:140]}")
    if answer.note:
        print(answer.note, file=sys.stderr)
    return 0 if answer.route != "unsupported" else 2


def print_table(columns: list[str], rows: list[list], width: int = 60) -> None:
    """A plain aligned table; cells cut at `width` characters."""
    cells = [[_cell(v, width) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _cell(value, width: int) -> str:
    text = "" if value is None else f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) \
        else f"{value:.4g}" if isinstance(value, float) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"
