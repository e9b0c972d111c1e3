"""Two engines behind one interface: the built-in parser (no LLM, the default) and the LLM pilot.

`answer_question` asks the LLM engine when an endpoint is configured and it is wanted; without one (or when
it cannot answer) the parser answers. Every SQL either engine writes runs under the guard.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from logpilot_dagster.ask import guard
from logpilot_dagster.ask.parser import Parse, Unsupported, build_sql, parse_question, sentence
from logpilot_dagster.ask.vocabulary import Vocabulary, build_vocabulary
from logpilot_dagster.store.layout import HomeLayout

ROUTES = ("sql", "search", "rag", "unsupported")
SUGGEST_SQL = ("Try `logpilot sql \"SELECT …\"` with a query of your own over logs_labelled, templates and "
               "system_catalog.")


@dataclass
class Answer:
    route: str  # sql | search | rag | unsupported
    answer: str
    engine: str = "parser"  # parser | llm
    sql: str | None = None
    columns: list[str] = field(default_factory=list)
    rows: list[list] = field(default_factory=list)
    sources: list[dict] = field(default_factory=list)
    note: str | None = None
    shape: str | None = None  # the parser's question shape (count, breakdown, top, …), for the evaluation

    def to_dict(self) -> dict:
        return {"route": self.route, "engine": self.engine, "sql": self.sql, "columns": self.columns,
                "rows": self.rows, "answer": self.answer, "sources": self.sources, "note": self.note}


class ParserEngine:
    """The semantic parser over one warehouse; its vocabulary is read once per engine."""

    name = "parser"

    def __init__(self, layout: HomeLayout, index_factory: Callable | None = None, now: datetime | None = None):
        self.layout = layout
        self.index_factory = index_factory
        self.now = now
        self._vocab: Vocabulary | None = None

    def vocabulary(self) -> Vocabulary:
        if self._vocab is None:
            with guard.connect_guarded(self.layout) as con:
                self._vocab = build_vocabulary(con)
        return self._vocab

    def answer(self, question: str) -> Answer:
        try:
            parse = parse_question(question, self.vocabulary(), now=self.now or datetime.now(UTC))
        except Unsupported as why:
            return Answer("unsupported", f"Not supported: {why}. {SUGGEST_SQL}")
        if parse.route in ("rag", "search"):
            from logpilot_dagster.vectors.index import IndexMissing

            try:
                index = self._index()
            except IndexMissing as err:
                return Answer("unsupported", f"No vector index to answer from: {err}")
            if parse.route == "rag":
                return retrieve(index, question, engine=self.name)
            return search_answer(index, parse.query, engine=self.name)
        try:
            sql = build_sql(parse)
        except Unsupported as why:
            return Answer("unsupported", f"Not supported: {why}. {SUGGEST_SQL}")
        try:
            result = guard.run_sql(self.layout, sql)
        except (guard.SqlRefused, guard.QueryTimeout, duckdb.Error) as err:  # a parser bug, said plainly
            return Answer("unsupported", f"Could not answer: {err}. {SUGGEST_SQL}", sql=sql)
        return Answer("sql", sentence(parse, result.columns, result.rows), sql=result.sql,
                      columns=result.columns, rows=result.rows, shape=parse.shape,
                      note="first rows only" if result.truncated else None)

    def parse(self, question: str) -> Parse:
        return parse_question(question, self.vocabulary(), now=self.now or datetime.now(UTC))

    def _index(self):
        if self.index_factory is not None:
            return self.index_factory()
        from logpilot_dagster.vectors.index import open_index

        return open_index(self.layout)


def search_answer(index, query: str, k: int = 5, engine: str = "parser") -> Answer:
    """The nearest templates, as rows."""
    from logpilot_dagster.vectors.index import IndexMissing

    try:
        hits = index.search(query, k=k) if index is not None else []
    except IndexMissing as err:
        return Answer("unsupported", f"No vector index to search: {err}", engine=engine)
    columns = ["template_id", "source", "label", "count", "score", "template"]
    rows = [[h.template_id, h.source, h.label, h.count, round(h.score, 4), h.template] for h in hits]
    answer = (f"The nearest template is {hits[0].template_id} ({hits[0].source}): {hits[0].template}"
              if hits else "No templates in the index.")
    return Answer("search", answer, engine=engine, columns=columns, rows=rows,
                  sources=[h.to_dict() for h in hits])


def retrieve(index, question: str, k: int = 3, engine: str = "parser") -> Answer:
    """Why / how-do-I-fix questions: the nearest runbook passages (the best runbook's fix first) and templates."""
    from logpilot_dagster.vectors.index import IndexMissing

    try:
        passages = index.search(question, k=k, runbooks=True, templates=False)
        templates = index.search(question, k=k)
    except IndexMissing as err:
        return Answer("unsupported", f"No runbook index to search: {err}", engine=engine)
    if not passages:
        return Answer("rag", "No runbooks are indexed; add Markdown files to runbooks/ and materialize "
                      "runbook_index.", engine=engine, sources=[t.to_dict() for t in templates])
    best = passages[0]
    steps = _fix_passage(index, best, question) or best
    text = " ".join(steps.text.split())
    answer = f"From the runbook “{best.title}” ({steps.heading}): {_sentences(text, 420)}"
    related = ", ".join(f"{t.template_id}" for t in templates[:3])
    if related:
        answer += f" Related templates: {related}."
    cited = {steps.id: steps, **{p.id: p for p in passages if p.id != steps.id}}
    sources = [p.to_dict() for p in cited.values()] + [t.to_dict() for t in templates]
    return Answer("rag", answer, engine=engine, sources=sources)


def _fix_passage(index, best, question: str):
    """The best runbook's Fix section, when the question asks how to fix (and the runbook has one)."""
    if not re.search(r"\b(fix|resolve|repair|solve|remedy|mitigate|restart|recover|renew)\b", question, re.I):
        return None
    for hit in index.search(f"{best.title} fix", k=12, runbooks=True, templates=False):
        if hit.file == best.file and hit.heading and hit.heading.lower().startswith(("fix", "resolution")):
            return hit
    return None


def _sentences(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = cut.rfind(". ")
    return cut[:end + 1] if end > limit // 3 else cut.rstrip() + "…"


def answer_question(layout: HomeLayout, question: str, use_llm: bool = True, index_factory: Callable | None = None,
                    llm_config=None, now: datetime | None = None) -> Answer:
    """The LLM pilot when an endpoint is configured and wanted, else (or when it gives up) the parser."""
    parser = ParserEngine(layout, index_factory, now=now)
    if use_llm:
        from logpilot_dagster.ask.llm_engine import LLMEngine
        from logpilot_dagster.llm.client import LLMConfig

        llm = LLMEngine(layout, llm_config or LLMConfig.from_env(), index_factory=index_factory)
        if llm.disabled_reason is None:
            answer = llm.answer(question)
            if answer is not None:
                return answer
            fallback = parser.answer(question)
            fallback.note = " ".join(filter(None, [fallback.note, f"LLM engine gave up: {llm.last_problem}; "
                                                   "the built-in parser answered"]))
            return fallback
        answer = parser.answer(question)
        answer.note = " ".join(filter(None, [answer.note, llm.disabled_reason + "; the built-in parser answered"]))
        return answer
    return parser.answer(question)
