"""`GET /search` and `POST /ask`: semantic search over templates and runbooks, and questions in plain language.

Both run in worker threads behind the app's limiter (embedding a query and running SQL are CPU work). A
question or query the engines cannot take is a 4xx with `ErrorResponse`; a question outside what the
built-in parser understands is a 200 with route `unsupported` and an answer that says so.
"""

from __future__ import annotations

import threading
from typing import Any

import anyio
from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel, Field

from logpilot_dagster.api.gate import WarehouseGate
from logpilot_dagster.store.layout import HomeLayout

MAX_QUESTION_CHARS = 1_000


class SearchHit(BaseModel):
    kind: str = Field(description="template | runbook")
    id: str
    score: float = Field(description="cosine similarity to the query (1 is identical)")
    template_id: str | None = None
    template: str | None = None
    source: str | None = None
    count: int | None = None
    label: str | None = None
    example: str | None = Field(default=None, description="one line of the template, personal data masked")
    file: str | None = None
    title: str | None = None
    heading: str | None = None
    text: str | None = None


class SearchResponse(BaseModel):
    query: str
    results: list[SearchHit]


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS,
                          examples=["how many errors per source in March 2026?"])
    use_llm: bool = Field(default=True, description="false: the built-in parser even when an LLM is configured")


class AskResponse(BaseModel):
    question: str
    route: str = Field(description="sql | search | rag | unsupported")
    engine: str = Field(description="parser | llm")
    sql: str | None = Field(default=None, description="the SQL that ran, when one did")
    columns: list[str] = []
    rows: list[list[Any]] = []
    answer: str = Field(description="the answer in a sentence")
    sources: list[dict[str, Any]] = Field(default=[], description="templates or runbook passages cited")
    note: str | None = None


def add_question_routes(app: FastAPI, home: str | None, limiter: anyio.CapacityLimiter, gate: WarehouseGate,
                        errors: dict) -> None:
    """Register the routes on `app`; `errors` maps status codes to the app's ErrorResponse documentation."""
    state: dict[str, Any] = {}
    building = threading.Lock()

    def layout() -> HomeLayout:
        return HomeLayout.from_env(home)

    def index():
        """A fresh index handle per request (a purge may have rebuilt the Chroma folder since), over one
        embedder per app: loading the model is what costs."""
        from logpilot_dagster.vectors.index import default_embedder, open_index

        with building:
            if "embedder" not in state:
                state["embedder"] = default_embedder(layout())
        return open_index(layout(), state["embedder"])

    def search_sync(q: str, k: int, runbooks: bool) -> SearchResponse:
        from logpilot_dagster.vectors.index import IndexMissing

        try:
            hits = index().search(q, k=k, runbooks=runbooks)
        except IndexMissing as err:
            raise HTTPException(409, str(err)) from err
        return SearchResponse(query=q, results=[SearchHit(**h.to_dict()) for h in hits])

    @app.get("/search", response_model=SearchResponse, summary="The templates (and runbook passages) nearest a query",
             responses={code: errors[code] for code in (409, 422) if code in errors})
    async def search(q: str = Query(min_length=1, max_length=MAX_QUESTION_CHARS, description="in your own words"),
                     k: int = Query(5, ge=1, le=100), runbooks: bool = Query(False)) -> SearchResponse:
        if not q.strip():
            raise HTTPException(422, "q is blank: describe what you are looking for")
        return await anyio.to_thread.run_sync(search_sync, q, k, runbooks, limiter=limiter)

    def ask_sync(request: AskRequest) -> AskResponse:
        from logpilot_dagster.ask.engine import answer_question

        home_layout = layout()
        if not home_layout.duckdb.is_file():
            raise HTTPException(409, f"no warehouse at {home_layout.duckdb}: run `logpilot bootstrap` first")
        with gate.reading():
            answer = answer_question(home_layout, request.question, use_llm=request.use_llm,
                                     index_factory=lambda: index())
        return AskResponse(question=request.question, **answer.to_dict())

    @app.post("/ask", response_model=AskResponse, summary="A question in plain language, answered from SQL or runbooks",
              responses={code: errors[code] for code in (409, 422, 503) if code in errors})
    async def ask(request: AskRequest) -> AskResponse:
        if not request.question.strip():
            raise HTTPException(422, "question is blank")
        return await anyio.to_thread.run_sync(ask_sync, request, limiter=limiter)
