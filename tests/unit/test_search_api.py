"""`GET /search` and `POST /ask` on the HTTP API: answers in the CLI's shape, 4xx for what a user got wrong."""

from __future__ import annotations

import duckdb
import pytest
from fastapi.testclient import TestClient
from support.ask_fixtures import ask_home, indexed_home  # noqa: F401 (fixtures)
from support.fixtures import real_embedder  # noqa: F401 (fixture)

from logpilot_dagster.api.app import ApiSettings, create_app
from logpilot_dagster.classify.classifier import ClassifierConfig
from logpilot_dagster.llm.client import LLMConfig


@pytest.fixture
def client(indexed_home, monkeypatch):  # noqa: F811
    monkeypatch.delenv("LOGPILOT_LLM_BASE_URL", raising=False)
    settings = ApiSettings(classifier=ClassifierConfig(llm=LLMConfig()), home=str(indexed_home.home))
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def test_search_returns_the_nearest_templates(client) -> None:
    response = client.get("/search", params={"q": "the kernel killed a process because memory ran out", "k": 3})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert len(results) == 3 and results[0]["source"] == "syslog" and "Out of memory" in results[0]["template"]
    assert results[0]["score"] >= results[1]["score"] >= results[2]["score"]
    with_runbooks = client.get("/search", params={"q": "certificate expired", "k": 2, "runbooks": True}).json()
    assert [r["kind"] for r in with_runbooks["results"]] == ["template", "template", "runbook", "runbook"]
    assert with_runbooks["results"][2]["file"] == "certificate-expiry.md"


@pytest.mark.parametrize("params", [{"q": ""}, {"q": "   "}, {"q": "x", "k": 0}, {"q": "x", "k": 1000}, {}])
def test_search_refuses_bad_parameters(client, params) -> None:
    response = client.get("/search", params=params)
    assert response.status_code == 422 and "detail" in response.json()


def test_ask_answers_with_sql(client, indexed_home) -> None:  # noqa: F811
    response = client.post("/ask", json={"question": "how many errors per source?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["route"] == "sql" and body["engine"] == "parser" and body["columns"] == ["source", "lines"]
    with duckdb.connect(str(indexed_home.duckdb), read_only=True) as con:
        expected = con.execute("SELECT source, count(*) FROM logs_all WHERE level = 'ERROR' GROUP BY 1").fetchall()
    assert sorted(map(tuple, body["rows"])) == sorted(expected)


def test_ask_answers_from_runbooks(client) -> None:
    body = client.post("/ask", json={"question": "why do ssh logins keep failing from the same address?"}).json()
    assert body["route"] == "rag" and body["sources"][0]["file"] == "ssh-brute-force.md"


@pytest.mark.parametrize("payload", [{"question": ""}, {"question": "  "}, {}, {"question": "x" * 5000}, []])
def test_ask_refuses_bad_bodies(client, payload) -> None:
    response = client.post("/ask", json=payload)
    assert response.status_code == 422 and "detail" in response.json()


def test_ask_without_a_warehouse_is_409(tmp_path) -> None:
    settings = ApiSettings(classifier=ClassifierConfig(llm=LLMConfig()), home=str(tmp_path / "empty"))
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        assert test_client.post("/ask", json={"question": "how many errors?"}).status_code == 409
        assert test_client.get("/search", params={"q": "memory"}).status_code == 409


def test_the_routes_are_documented(client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "get" in paths["/search"] and "post" in paths["/ask"]
    assert "409" in paths["/ask"]["post"]["responses"]


def _hold(path):
    """Another process holding the warehouse for writing (a live batch, a bootstrap load) until its stdin is
    closed; returns once it holds it."""
    import subprocess
    import sys

    code = (f"import duckdb, sys; con = duckdb.connect({str(path)!r}); con.execute('BEGIN'); print('held', "
            f"flush=True); sys.stdin.read(); con.execute('COMMIT'); con.close()")
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    return child


def test_questions_wait_for_a_live_batch_and_say_when_the_warehouse_stays_held(
        indexed_home, tmp_path, monkeypatch, capsys):  # noqa: F811
    """While `logpilot live` writes a batch, the API and the CLI wait for it (they failed with DuckDB's lock
    error, a 500 and a traceback); held for longer than a reader waits, a 503 and one line."""
    import shutil
    import threading

    from logpilot_dagster.ask import guard
    from logpilot_dagster.cli import main
    from logpilot_dagster.store.layout import HomeLayout

    monkeypatch.delenv("LOGPILOT_LLM_BASE_URL", raising=False)
    home = HomeLayout(shutil.copytree(indexed_home.home, tmp_path / "home", symlinks=True))
    settings = ApiSettings(classifier=ClassifierConfig(llm=LLMConfig()), home=str(home.home))
    question = {"question": "how many errors per source?"}
    with TestClient(create_app(settings), raise_server_exceptions=False) as api:
        batch = _hold(home.duckdb)
        threading.Timer(1.0, batch.stdin.close).start()  # the batch commits while the question waits
        assert api.post("/ask", json=question).status_code == 200
        batch.wait(10)
        monkeypatch.setattr(guard, "WAREHOUSE_WAIT_S", 0.3)
        load = _hold(home.duckdb)
        try:
            response = api.post("/ask", json=question)
            code = main(["ask", "--home", str(home.home), "how", "many", "errors?"])
        finally:
            load.stdin.close()
            load.wait(10)
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert "held by another process" in response.json()["detail"]
    err = capsys.readouterr().err
    assert code == 2 and "held by another process" in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_a_purge_and_a_question_in_the_same_api_process_take_turns(indexed_home, tmp_path, monkeypatch):  # noqa: F811
    """DuckDB refuses a process a read-only connection while it has a writing one to the same file: a question
    asked while the API's own purge was writing got a 500. It waits for the purge now, and both succeed."""
    import shutil
    import threading

    from logpilot_dagster.store import sinks, tables
    from logpilot_dagster.store.layout import HomeLayout

    monkeypatch.delenv("LOGPILOT_LLM_BASE_URL", raising=False)
    home = HomeLayout(shutil.copytree(indexed_home.home, tmp_path / "home", symlinks=True))
    writing, release = threading.Event(), threading.Event()

    def slow_sink(layout, subject, _purging):  # a purge's sink, writing to the warehouse for a while
        with tables.connect(layout.duckdb) as con:
            con.execute("SELECT count(*) FROM logs").fetchone()
            writing.set()
            release.wait(10)
        return 0

    monkeypatch.setattr(sinks, "SINKS", (sinks.Sink("slow", "a sink that takes its time", lambda *_: 0, slow_sink),))
    settings = ApiSettings(classifier=ClassifierConfig(llm=LLMConfig()), home=str(home.home))
    answers = {}
    with TestClient(create_app(settings), raise_server_exceptions=False) as api:
        purge = threading.Thread(target=lambda: answers.update(purge=api.post("/purge", json={"subject": "x"})))
        purge.start()
        assert writing.wait(30)
        threading.Timer(0.5, release.set).start()
        answers["ask"] = api.post("/ask", json={"question": "how many errors per source?"})
        purge.join(30)
    assert answers["purge"].status_code == 200, answers["purge"].text
    assert answers["ask"].status_code == 200, answers["ask"].text
