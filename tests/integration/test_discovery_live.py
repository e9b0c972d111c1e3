"""Templates the bootstrap never saw: learned by the live writer, stored in `templates`, labelled through the
router, and given a validated schema in the registry (the LLM is not needed for them)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import pytest

from logpilot_dagster.bootstrap.steps import run_bootstrap
from logpilot_dagster.live.engine import LiveEngine
from logpilot_dagster.live.folder import FolderStream
from logpilot_dagster.live.labelling import TemplateLabeller
from logpilot_dagster.live.schema_discovery import SchemaRegistry, discover_new_templates
from logpilot_dagster.llm.client import LLMConfig
from logpilot_dagster.store import tables
from logpilot_dagster.store.layout import HomeLayout


@pytest.fixture
def live_home(tmp_path, sample_landing) -> HomeLayout:
    layout = HomeLayout.from_env(tmp_path / "home").ensure()
    shutil.copytree(sample_landing / "landing", layout.landing, dirs_exist_ok=True)
    run_bootstrap(layout, workers=1)
    return layout


def test_new_templates_get_a_template_row_a_label_and_a_schema(live_home):
    now = datetime.now(UTC) - timedelta(minutes=10)
    records = []
    for i in range(40):
        records.append({"ts": (now + timedelta(seconds=i)).isoformat(), "source": "nova",
                        "message": f"Flux capacitor unit {100 + i} recalibrated in {i * 3 + 1} ms by operator"})
        records.append({"ts": (now + timedelta(seconds=i, milliseconds=500)).isoformat(), "source": "nova",
                        "message": f"Warp coil {i % 7} overheated: temperature={700 + i}K, shutting down"})
    FolderStream(live_home.live).append(records)
    with tables.connect(live_home.duckdb, read_only=True) as con:
        before = tables.table_row_count(con, "templates")
    with LiveEngine(live_home, FolderStream(live_home.live), log=lambda m: None,
                    labeller=TemplateLabeller(llm=LLMConfig()), on_new_templates=discover_new_templates) as engine:
        counts = engine.run_once()
    assert counts.rows_stored == 80 and counts.new_templates >= 2
    with tables.connect(live_home.duckdb, read_only=True) as con:
        rows = con.execute("""
            SELECT t.template_id, t.template, t.count, t.label_tier FROM templates t
            WHERE t.template_id IN (SELECT DISTINCT template_id FROM logs WHERE ingest_mode = 'live')
              AND (t.template LIKE 'Flux capacitor%' OR t.template LIKE 'Warp coil%')
        """).fetchall()
        assert tables.table_row_count(con, "templates") >= before + 2
        unmatched = con.execute("SELECT count(*) FROM logs WHERE ingest_mode = 'live' AND template_id LIKE '%:0'"
                                ).fetchone()[0]
    assert unmatched == 0
    assert {r[1].split(" ")[0] for r in rows} == {"Flux", "Warp"}
    assert sum(r[2] for r in rows) == 80  # counts grew by the live rows
    assert all(r[3] is not None for r in rows)  # labelled (rules or unclassified), not left NULL
    registry = SchemaRegistry.load(live_home.schema_registry)
    discovered = {tid for tid in registry.accepted} | {r["template_id"] for r in registry.rejected}
    assert {r[0] for r in rows} <= discovered
    accepted = [registry.accepted[r[0]] for r in rows if r[0] in registry.accepted]
    assert accepted and all(a["proposed_by"] == "template" for a in accepted)
    warp = next(a for a in accepted if a["template"].startswith("Warp"))
    assert registry.pattern(warp["template_id"]).fullmatch(
        "Warp coil 3 overheated: temperature=712K, shutting down") is not None
