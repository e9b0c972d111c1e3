"""The LLM pilot against the scripted OpenAI-compatible stub: SQL, self-correction, refusal, cited retrieval."""

from __future__ import annotations

import re

import duckdb
import pytest
from support.ask_fixtures import ask_home, indexed_home, tree_fingerprint  # noqa: F401 (fixtures)
from support.fixtures import real_embedder  # noqa: F401 (fixture)
from support.openai_stub import OpenAIStub, Reply, last_user_prompt

from logpilot_dagster.ask.engine import answer_question
from logpilot_dagster.ask.llm_engine import LLMEngine
from logpilot_dagster.llm.client import LLMConfig

COUNT_ERRORS = "SELECT count(*) AS n FROM logs_labelled WHERE level = 'ERROR'"


def _config(stub: OpenAIStub, **kw) -> LLMConfig:
    return LLMConfig(base_url=stub.base_url, timeout_s=5.0, **kw)


def _errors(layout) -> int:
    with duckdb.connect(str(layout.duckdb), read_only=True) as con:
        return con.execute("SELECT count(*) FROM logs_all WHERE level = 'ERROR'").fetchone()[0]


def test_correct_sql_runs_and_the_prompt_has_the_schema(ask_home) -> None:  # noqa: F811
    with OpenAIStub() as stub:
        stub.queue(Reply.json({"route": "sql", "sql": COUNT_ERRORS}))
        answer = LLMEngine(ask_home, _config(stub)).answer("How many errors are there?")
    assert (answer.engine, answer.route, answer.rows) == ("llm", "sql", [[_errors(ask_home)]])
    system = stub.requests[0]["messages"][0]["content"]
    assert "logs_labelled(" in system and "label_tier" in system and "the line's message, personal data masked" in system
    assert "system_catalog(" in system and "Examples:" in system
    assert "logs_labelled.label: " in system and "Security Alert" in system and "billing" in system
    assert len(stub.requests) == 1


def test_broken_sql_is_corrected_with_the_error(ask_home) -> None:  # noqa: F811
    with OpenAIStub() as stub:
        stub.queue(Reply.json({"route": "sql", "sql": "SELECT count(*) FROM logs_labelled WHERE severity = 'ERROR'"}),
                   Reply.json({"route": "sql", "sql": COUNT_ERRORS}))
        answer = LLMEngine(ask_home, _config(stub)).answer("How many errors are there?")
    assert answer.route == "sql" and answer.rows == [[_errors(ask_home)]]
    correction = last_user_prompt(stub.requests[1])
    assert "severity" in correction and "failed" in correction  # DuckDB's error went back
    assert "severity" in answer.note


def test_a_write_is_refused_every_time_and_nothing_changes(ask_home) -> None:  # noqa: F811
    before = tree_fingerprint(ask_home.home)
    with OpenAIStub() as stub:
        stub.queue(*[Reply.json({"route": "sql", "sql": "DELETE FROM logs WHERE level = 'ERROR'"})] * 3)
        answer = LLMEngine(ask_home, _config(stub), max_corrections=2).answer("delete the errors")
    assert answer.route == "unsupported" and "refused" in answer.answer and answer.rows == []
    assert len(stub.requests) == 3  # the first try and two corrections, then it stops
    assert all("refused by the guard" in last_user_prompt(r) for r in stub.requests[1:])
    assert tree_fingerprint(ask_home.home) == before
    assert _errors(ask_home) > 0


def _cite_first(request: dict) -> Reply:
    ids = re.findall(r"^\[([^\]]+)\]", last_user_prompt(request), flags=re.M)
    return Reply.json({"answer": "Restart libvirtd, then nova-compute.", "citations": ids[:1]})


def test_retrieval_answers_cite_what_they_were_given(indexed_home, real_embedder) -> None:  # noqa: F811
    from logpilot_dagster.vectors.index import open_index

    index = open_index(indexed_home, real_embedder)
    with OpenAIStub(default=_cite_first) as stub:
        stub.queue(Reply.json({"route": "rag"}),
                   Reply.json({"answer": "Reinstall the OS.", "citations": ["made-up-runbook.md#1"]}))
        answer = LLMEngine(indexed_home, _config(stub), index_factory=lambda: index).answer(
            "How do I fix a libvirt guest that fails to start?")
    assert answer.route == "rag" and answer.answer.startswith("Restart libvirtd")
    assert [s["kind"] for s in answer.sources] == ["runbook"]
    assert answer.sources[0]["file"] == "libvirt-guest-start-failure.md"
    context = last_user_prompt(stub.requests[1])
    assert "libvirt-guest-start-failure.md#" in context and "template from nova" in context
    assert len(stub.requests) == 3  # the made-up citation was refused and asked again


def test_without_an_endpoint_the_parser_answers(ask_home, monkeypatch) -> None:  # noqa: F811
    monkeypatch.delenv("LOGPILOT_LLM_BASE_URL", raising=False)
    answer = answer_question(ask_home, "how many errors are there?", llm_config=LLMConfig())
    assert answer.engine == "parser" and answer.rows == [[_errors(ask_home)]]
    assert "LLM tier disabled" in answer.note


def test_a_failing_endpoint_falls_back_to_the_parser(ask_home) -> None:  # noqa: F811
    with OpenAIStub(default=lambda request: Reply.server_error()) as stub:
        answer = answer_question(ask_home, "how many errors are there?", llm_config=_config(stub, max_retries=1))
    assert answer.engine == "parser" and answer.rows == [[_errors(ask_home)]]
    assert "gave up" in answer.note and len(stub.requests) == 2


@pytest.mark.parametrize("reply", [Reply.malformed(), Reply.json({"route": "drop everything"})])
def test_invalid_replies_are_retried(ask_home, reply) -> None:  # noqa: F811
    with OpenAIStub() as stub:
        stub.queue(reply, Reply.json({"route": "sql", "sql": COUNT_ERRORS}))
        answer = LLMEngine(ask_home, _config(stub)).answer("How many errors are there?")
    assert answer.rows == [[_errors(ask_home)]]
    assert len(stub.requests) == 2


def test_search_route_returns_templates(indexed_home, real_embedder) -> None:  # noqa: F811
    from logpilot_dagster.vectors.index import open_index

    index = open_index(indexed_home, real_embedder)
    with OpenAIStub() as stub:
        stub.queue(Reply.json({"route": "search", "query": "kernel out of memory killer"}))
        answer = LLMEngine(indexed_home, _config(stub), index_factory=lambda: index).answer(
            "which templates look like the oom killer?")
    assert answer.route == "search" and answer.engine == "llm"
    assert answer.columns[0] == "template_id" and "Out of memory" in answer.rows[0][-1]
