"""The LLM pilot: decides the route, writes SQL from the schema, corrects itself, answers from cited passages.

One call decides the route and, for a number, writes the SQL (the prompt has every readable column with its
description and a few worked examples). The SQL goes through the guard and runs read-only; when the guard
refuses it or DuckDB cannot run it, the error goes back for at most `max_corrections` more attempts. For
"why / how do I fix", the nearest runbook passages and templates go to a second call, whose answer must cite
the ids it used (a citation to anything it was not given is refused and retried by the client).

No endpoint configured: `disabled_reason` says so and `answer_question` lets the parser answer. Every call
counts against the client's budget; a spent budget or a failing endpoint returns None (the parser answers).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import duckdb
from pydantic import BaseModel, Field

from logpilot_dagster.ask import guard
from logpilot_dagster.ask.engine import Answer, search_answer
from logpilot_dagster.ask.schema import describe
from logpilot_dagster.llm.client import LLMClient, LLMConfig, LLMUnavailable
from logpilot_dagster.store.layout import HomeLayout
from logpilot_dagster.vectors.index import IndexMissing

MAX_CORRECTIONS = 2
MAX_TOKENS = 800  # a SQL statement with a join and a window needs more than the labelling default

# Worked examples for the prompt (not the golden questions: those score the engine).
EXAMPLES = (
    ("How many warnings did nova log in July 2026?",
     "SELECT count(*) AS lines FROM logs_labelled WHERE source = 'nova' AND level = 'WARN' "
     "AND ts >= TIMESTAMPTZ '2026-07-01 00:00:00+00' AND ts < TIMESTAMPTZ '2026-08-01 00:00:00+00'"),
    ("Errors per department",
     "SELECT c.department, count(*) AS lines FROM logs_labelled l JOIN system_catalog c "
     "ON c.system_name = l.source WHERE l.level = 'ERROR' GROUP BY ALL ORDER BY lines DESC"),
    ("What are the three most frequent templates of syslog?",
     "SELECT template_id, template, count FROM templates WHERE source = 'syslog' ORDER BY count DESC LIMIT 3"),
    ("When was the last resource usage warning from a critical system?",
     "SELECT max(l.ts) AS last_seen FROM logs_labelled l JOIN system_catalog c ON c.system_name = l.source "
     "WHERE l.label = 'Resource Usage' AND c.criticality = 'critical'"),
)

ROUTE_SYSTEM = """You answer questions about LogPilot's log warehouse (DuckDB). Decide the route:
- "sql": the answer is a number, a list or a breakdown from the tables below; write ONE read-only DuckDB
  SELECT. Read logs_labelled for lines (it covers every storage tier), never logs. Times are TIMESTAMPTZ in
  UTC. Filter values must be ones the data has (levels: DEBUG, INFO, WARN, ERROR, CRITICAL).
- "rag": the question asks why something happens or how to fix or handle it (answered from runbooks).
- "search": the question asks which log templates look like a description.
- "unsupported": the data cannot answer it.
Never write INSERT, UPDATE, DELETE, DDL, PRAGMA, SET, ATTACH, COPY or file functions: they are refused.
Reply with JSON only: {"route": "sql"|"rag"|"search"|"unsupported", "sql": "...", "query": "...",
"reason": "..."}.

Tables:
{schema}

Values in this warehouse:
{values}

Examples:
{examples}"""

RAG_SYSTEM = """You answer an operator's question from the runbook passages and log templates given, and
nothing else. Cite the ids of the passages and templates you used. Reply with JSON only:
{"answer": "two or three sentences", "citations": ["id", ...]}"""


class RouteReply(BaseModel):
    route: Literal["sql", "rag", "search", "unsupported"]
    sql: str | None = Field(default=None, max_length=guard.MAX_SQL_CHARS)
    query: str | None = None
    reason: str | None = None


class RagReply(BaseModel):
    answer: str = Field(min_length=1, max_length=4_000)
    citations: list[str] = Field(min_length=1)


class LLMEngine:
    name = "llm"

    def __init__(self, layout: HomeLayout, config: LLMConfig, index_factory=None,
                 max_corrections: int = MAX_CORRECTIONS, client: LLMClient | None = None):
        self.layout = layout
        self.index_factory = index_factory
        self.max_corrections = max_corrections
        self.client = client or LLMClient(dataclasses.replace(config, max_tokens=max(config.max_tokens, MAX_TOKENS)))
        self.last_problem: str | None = None
        self._prompt: str | None = None

    @property
    def disabled_reason(self) -> str | None:
        return self.client.disabled_reason

    def system_prompt(self) -> str:
        if self._prompt is None:
            examples = "\n".join(f"Q: {q}\nSQL: {sql}" for q, sql in EXAMPLES)
            self._prompt = (ROUTE_SYSTEM.replace("{schema}", describe()).replace("{values}", self._values())
                            .replace("{examples}", examples))
        return self._prompt

    def _values(self) -> str:
        """The distinct sources, levels, labels, departments and criticalities, so filters use real values."""
        from logpilot_dagster.ask.vocabulary import build_vocabulary

        with guard.connect_guarded(self.layout) as con:
            values = build_vocabulary(con).values
        names = {"source": "logs_labelled.source", "level": "logs_labelled.level", "label": "logs_labelled.label",
                 "department": "system_catalog.department", "criticality": "system_catalog.criticality"}
        return "\n".join(f"  {column}: {', '.join(values.get(key, [])[:60])}" for key, column in names.items())

    def answer(self, question: str) -> Answer | None:
        """The LLM's answer, or None when the endpoint gives none (the caller falls back to the parser)."""
        try:
            reply = self.client.ask_json(self.system_prompt(), f"Question: {question}", RouteReply)
            if reply.route == "sql":
                return self._sql(question, reply)
            if reply.route == "rag":
                return self._rag(question)
            if reply.route == "search":
                return search_answer(self._index(), reply.query or question, engine=self.name)
            return Answer("unsupported", f"Not supported: {reply.reason or 'the data cannot answer this'}.",
                          engine=self.name)
        except LLMUnavailable as err:
            self.last_problem = str(err)
            return None
        except IndexMissing as err:
            return Answer("unsupported", f"No vector index to answer from: {err}", engine=self.name)

    def _sql(self, question: str, reply: RouteReply) -> Answer:
        sql = reply.sql or ""
        problems: list[str] = []
        for attempt in range(self.max_corrections + 1):
            try:
                result = guard.run_sql(self.layout, sql)
            except (guard.SqlRefused, guard.QueryTimeout, duckdb.Error) as err:
                kind = "refused by the guard" if isinstance(err, guard.SqlRefused) else "failed"
                problems.append(f"{kind}: {' '.join(str(err).split())[:400]}")
                if attempt == self.max_corrections:
                    break
                fix = self.client.ask_json(self.system_prompt(), (
                    f"Question: {question}\nYour previous SQL:\n{sql}\nIt {problems[-1]}\n"
                    "Reply with the corrected JSON (route sql and one read-only SELECT)."), RouteReply)
                if fix.route != "sql" or not fix.sql:
                    return Answer("unsupported", f"Not supported: {fix.reason or 'no SQL could answer this'}.",
                                  engine=self.name, note="; ".join(problems))
                sql = fix.sql
                continue
            return Answer("sql", _sentence(result), engine=self.name, sql=result.sql, columns=result.columns,
                          rows=result.rows, note="; ".join(problems) or None)
        return Answer("unsupported", f"Could not answer: the SQL was {problems[-1]} "
                      f"(after {self.max_corrections} corrections).", engine=self.name, sql=sql,
                      note="; ".join(problems))

    def _index(self):
        if self.index_factory is not None:
            return self.index_factory()
        from logpilot_dagster.vectors.index import open_index

        return open_index(self.layout)

    def _rag(self, question: str) -> Answer:
        index = self._index()
        passages = index.search(question, k=4, runbooks=True, templates=False)
        templates = index.search(question, k=3)
        given = {h.id: h for h in [*passages, *templates]}
        context = "\n\n".join(
            f"[{h.id}] runbook {h.title} / {h.heading}:\n{h.text}" if h.kind == "runbook"
            else f"[{h.id}] template from {h.source} ({h.count} lines, label {h.label}): {h.template}"
            for h in given.values())

        def cites_given(reply: RagReply) -> None:
            unknown = [c for c in reply.citations if c not in given]
            if unknown:
                raise ValueError(f"cited ids that were not given: {unknown[:3]}")

        reply = self.client.ask_json(RAG_SYSTEM, f"Question: {question}\n\nPassages and templates:\n{context}",
                                     RagReply, check=cites_given)
        return Answer("rag", reply.answer, engine=self.name,
                      sources=[given[c].to_dict() for c in dict.fromkeys(reply.citations)])


def _sentence(result: guard.QueryResult) -> str:
    if len(result.rows) == 1 and len(result.columns) == 1:
        value = result.rows[0][0]
        return f"The answer is {value:,}." if isinstance(value, int) else f"The answer is {value}."
    return f"{len(result.rows)} rows ({', '.join(result.columns)})" + (", the first ones only." if result.truncated
                                                                     else ".")
