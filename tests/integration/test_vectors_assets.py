"""template_vectors, runbook_index and ask_evaluation materialized with Dagster against a sample warehouse."""

from __future__ import annotations

import json

import duckdb
from dagster import materialize
from support.ask_fixtures import ask_home, ask_home_copy  # noqa: F401 (fixtures)

from logpilot_dagster.assets.questions import PARSER_MEETS_GOAL, ask_evaluation
from logpilot_dagster.assets.vectors import runbook_index, template_vectors
from logpilot_dagster.resources.chroma import ChromaResource
from logpilot_dagster.resources.embedder import EmbedderResource
from logpilot_dagster.resources.llm import LLMResource
from logpilot_dagster.resources.storage import LogPilotStorage
from logpilot_dagster.vectors.index import TEMPLATES, open_index


def _resources(layout) -> dict:
    return {"storage": LogPilotStorage(home=str(layout.home)), "embedder": EmbedderResource(),
            "chroma": ChromaResource(), "llm": LLMResource(base_url="")}


def test_vectors_and_evaluation_materialize(ask_home_copy, monkeypatch) -> None:  # noqa: F811
    monkeypatch.delenv("LOGPILOT_LLM_BASE_URL", raising=False)
    layout = ask_home_copy
    result = materialize([template_vectors, runbook_index, ask_evaluation], resources=_resources(layout))
    assert result.success
    with duckdb.connect(str(layout.duckdb), read_only=True) as con:
        templates, = con.execute("SELECT count(*) FROM templates").fetchone()
    meta = {e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
            for e in result.get_asset_materialization_events()}
    assert meta["template_vectors"]["dagster/row_count"].value == templates
    assert meta["template_vectors"]["upserted"].value == templates
    assert meta["runbook_index"]["runbooks"].value == 12
    assert meta["ask_evaluation"]["parser/accuracy"].value >= 0.9
    assert "disabled" in meta["ask_evaluation"]["llm/status"].value
    check = next(c for c in result.get_asset_check_evaluations() if c.check_name == PARSER_MEETS_GOAL)
    assert check.passed
    assert layout.chroma.joinpath("chroma.sqlite3").is_file()
    report = json.loads((layout.models / "ask_evaluation.json").read_text())
    assert all("why" not in o for o in report["parser"]["outcomes"])  # verdicts only, never rows

    # A template that vanished from `templates` leaves the index on the next run; nothing else is re-embedded.
    with duckdb.connect(str(layout.duckdb)) as con:
        gone, = con.execute("SELECT template_id FROM templates ORDER BY template_id LIMIT 1").fetchone()
        con.execute("DELETE FROM templates WHERE template_id = ?", [gone])
    again = materialize([template_vectors], resources=_resources(layout))
    meta = again.get_asset_materialization_events()[0].event_specific_data.materialization.metadata
    assert (meta["deleted"].value, meta["upserted"].value) == (1, 0)
    index = open_index(layout)
    assert gone not in index.collection(TEMPLATES).get()["ids"]
