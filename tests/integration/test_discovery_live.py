"""Templates the bootstrap never saw: learned by the live writer, stored in `templates`, labelled through the
router, and given a validated schema in the registry (the LLM is not needed for them)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import pytest
from support.ask_fixtures import ask_home, indexed_home  # noqa: F401 (fixtures)
from support.fixtures import real_embedder  # noqa: F401 (fixture)

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

    # The registry first: the accepted pattern's keyed groups are pairs of the live rows (generic extraction
    # finds none in `Flux capacitor unit 105 ...`); positional groups are not.
    flux = next(a for a in accepted if a["template"].startswith("Flux"))
    assert "unit" in flux["groups"]
    with tables.connect(live_home.duckdb, read_only=True) as con:
        pairs = con.execute("SELECT message, kv FROM logs WHERE template_id = ?", [flux["template_id"]]).fetchall()
    assert len(pairs) == 40
    for message, kv in pairs:
        assert kv["unit"] == message.split()[3] and not any(k.startswith("p") and k[1:].isdigit() for k in kv)


def test_new_templates_are_labelled_and_indexed_once_a_pass(tmp_path, indexed_home, real_embedder,  # noqa: F811
                                                            monkeypatch):
    """Two batches with new templates: prepared at the first, one labelling and one index sync at the end of
    the pass, the new templates in the vector index with their counts, and no known template written again."""
    from logpilot_dagster.live.labelling import TemplateIndexer
    from logpilot_dagster.vectors import index as vector_index

    shutil.copytree(indexed_home.home, tmp_path / "home", symlinks=True)
    layout = HomeLayout.from_env(tmp_path / "home")
    monkeypatch.setattr(vector_index, "default_embedder", lambda _layout: real_embedder)
    now = datetime.now(UTC) - timedelta(minutes=10)
    FolderStream(layout.live).append(
        [{"ts": (now + timedelta(seconds=i)).isoformat(), "source": "nova",
          "message": f"Flux capacitor unit {100 + i} recalibrated in {i * 3 + 1} ms by operator"} for i in range(30)]
        + [{"ts": (now + timedelta(seconds=40 + i)).isoformat(), "source": "nova",
            "message": f"Warp coil {i % 7} overheated: temperature={700 + i}K, shutting down"} for i in range(30)])
    labelled, prepared, synced = [], [], []

    def label(home: HomeLayout) -> None:  # the fixture's labels come from the ground truth, not a classifier
        labelled.append(home)

    class Indexer(TemplateIndexer):
        def prepare(self, home: HomeLayout) -> None:
            prepared.append(len(labelled))
            super().prepare(home)

        def __call__(self, home: HomeLayout) -> object:
            synced.append(super().__call__(home))
            return synced[-1]

    with LiveEngine(layout, FolderStream(layout.live), log=lambda m: None, batch_records=30, workers=1,
                    labeller=label, indexer=Indexer()) as engine:
        counts = engine.run_once()
    assert counts.batches == 2 and counts.new_templates >= 2
    assert len(labelled) == 1 and len(synced) == 1 and counts.labelled_templates == counts.new_templates
    assert prepared == [0]  # once, at the first new template, before the labelling at the end of the pass
    with tables.connect(layout.duckdb, read_only=True) as con:
        new_ids = {r[0] for r in con.execute(
            "SELECT template_id FROM templates WHERE template LIKE 'Flux capacitor%' OR template LIKE 'Warp coil%'"
        ).fetchall()}
        counts_by_id = dict(con.execute("SELECT template_id, count FROM templates WHERE template_id IN (SELECT "
                                        "unnest(?::VARCHAR[]))", [sorted(new_ids)]).fetchall())
    assert len(new_ids) == 2 and sum(counts_by_id.values()) == 60
    assert (synced[0].upserted, synced[0].refreshed) == (2, 0)  # no known template's count moved
    stored = vector_index.VectorIndex(layout.chroma, real_embedder).collection(vector_index.TEMPLATES).get(
        ids=sorted(new_ids), include=["metadatas"])
    assert {i: m["count"] for i, m in zip(stored["ids"], stored["metadatas"], strict=True)} == counts_by_id


def test_the_indexer_reads_the_embedding_cache_once_for_all_its_passes(tmp_path, monkeypatch):
    """`logpilot live` indexes after every pass with new templates; the store's cache (30 MB on a make-run
    home) is read for the first only."""
    from logpilot_dagster.live.labelling import TemplateIndexer
    from logpilot_dagster.vectors import index as vector_index

    made, synced = [], []
    monkeypatch.setattr(vector_index, "index_exists", lambda _layout: True)
    monkeypatch.setattr(vector_index, "default_embedder", lambda _layout: made.append(object()) or made[-1])
    monkeypatch.setattr(vector_index, "index_templates", lambda _layout, embedder: synced.append(embedder))
    indexer, layout = TemplateIndexer(), HomeLayout(tmp_path)
    indexer(layout)
    indexer(layout)
    assert len(made) == 1 and synced == [made[0], made[0]]


def _raw_line_records(start: datetime, n: int, offset: int = 0) -> list[dict]:
    levels, parts = ("INFO", "WARN", "ERROR"), ("db.pool", "http.server", "auth")
    records = []
    for i in range(offset, offset + n):
        ts = start + timedelta(seconds=i)
        message = (f"{ts:%Y-%m-%d %H:%M:%S},{i % 1000:03d} {levels[i % 3]} [{parts[i % 3]}] "
                   f"request {i} for user{i % 7}@example.org took {i % 90} ms")
        records.append({"ts": ts.isoformat(), "source": "payments_gw", "message": message})
    return records


def test_an_unknown_live_source_with_headers_gets_a_format_and_is_split_once_accepted(live_home, monkeypatch):
    from logpilot_dagster.ingest import discovery
    from logpilot_dagster.live.source_formats import LIVE_HEADER_OPTION, MIN_SAMPLE
    from logpilot_dagster.store.sinks import SINKS, find_everywhere

    monkeypatch.delenv(discovery.AUTO_ACCEPT_ENV, raising=False)
    start = datetime.now(UTC) - timedelta(hours=1)
    FolderStream(live_home.live).append(_raw_line_records(start, MIN_SAMPLE + 50))
    with LiveEngine(live_home, FolderStream(live_home.live), log=lambda m: None) as engine:
        first = engine.run_once()
    assert first.rows_stored == MIN_SAMPLE + 50 and first.conserved
    proposals = {p.name: p for p in discovery.read_proposals(live_home.proposed_sources)}
    proposal = proposals["payments_gw"]
    assert proposal.format == "regex" and proposal.options[LIVE_HEADER_OPTION] is True
    assert proposal.evidence["inferred_from"] == "live records" and proposal.evidence["parsed_share"] >= 0.99
    # The sample holds masked messages only, and a purge reaches it.
    sample = (live_home.live_samples / "payments_gw.json").read_text()
    assert "@example.org" not in sample and "EMAIL_REDACTED" in sample
    assert find_everywhere(live_home, "request")["live_samples"] > 0

    # Before the entry is accepted the messages are stored whole; after it, the header is split off.
    discovery.accept(live_home.proposed_sources, live_home.sources_file, "payments_gw")
    FolderStream(live_home.live).append(_raw_line_records(start, 30, offset=MIN_SAMPLE + 50))
    with LiveEngine(live_home, FolderStream(live_home.live), log=lambda m: None) as engine:
        second = engine.run_once()
    assert second.rows_stored == 30 and second.duplicates_skipped == 0
    with tables.connect(live_home.duckdb, read_only=True) as con:
        rows = con.execute("SELECT line_no, level, component, message FROM logs WHERE source = 'payments_gw' "
                           "ORDER BY ts").fetchall()
    assert len(rows) == MIN_SAMPLE + 80  # nothing lost, nothing twice
    before, after = rows[:MIN_SAMPLE + 50], rows[MIN_SAMPLE + 50:]
    assert all(r[3][:4].isdigit() and r[2] is None for r in before)
    for i, (_, level, component, message) in enumerate(after, start=MIN_SAMPLE + 50):
        assert level == ("INFO", "WARN", "ERROR")[i % 3]
        assert component == ("db.pool", "http.server", "auth")[i % 3]
        assert message.startswith(f"request {i} for <EMAIL_REDACTED>")
    sink = next(s for s in SINKS if s.name == "live_samples")
    assert sink.delete(live_home, "request") > 0 and sink.find(live_home, "request") == 0


def test_an_unknown_source_without_headers_is_stored_as_it_is_and_proposes_nothing(live_home):
    from logpilot_dagster.ingest import discovery

    start = datetime.now(UTC) - timedelta(hours=1)
    FolderStream(live_home.live).append([{"ts": (start + timedelta(seconds=i)).isoformat(), "source": "plain_app",
                                          "message": f"job {i} finished"} for i in range(300)])
    with LiveEngine(live_home, FolderStream(live_home.live), log=lambda m: None) as engine:
        counts = engine.run_once()
    assert counts.rows_stored == 300
    assert "plain_app" not in {p.name for p in discovery.read_proposals(live_home.proposed_sources)}
    assert not (live_home.live_samples / "plain_app.json").exists()


def test_a_full_sample_that_gave_no_format_is_tried_again_only_after_a_while(tmp_path, monkeypatch):
    """A failed inference (an LLM outage, say) is not final: the full sample is tried again once its last
    try is `RETRY_AFTER_S` old, and not at every batch in between."""
    import os
    import time

    from logpilot_dagster.live import source_formats
    from logpilot_dagster.live.source_formats import MAX_SAMPLE, RETRY_AFTER_S, LiveSourceFormats

    formats = LiveSourceFormats(HomeLayout(tmp_path).ensure())
    tries = []
    monkeypatch.setattr(source_formats.discovery, "infer",
                        lambda source, path, lines, client: tries.append(len(lines)) or "the LLM is unreachable")
    lines = [f"2026-11-30 12:00:{i % 60:02d} INFO [edge] request {i} served" for i in range(MAX_SAMPLE)]
    assert [r.reason for r in formats.observe({"edge": lines})] == ["the LLM is unreachable"]
    assert formats.observe({"edge": lines[:10]}) == [] and tries == [MAX_SAMPLE]  # full, tried just now
    sample = formats.sample_file("edge")
    old = time.time() - RETRY_AFTER_S - 1
    os.utime(sample, (old, old))
    assert len(formats.observe({"edge": lines[:10]})) == 1 and tries == [MAX_SAMPLE, MAX_SAMPLE]
    assert formats.observe({"edge": lines[:10]}) == []  # and that try starts the wait again
    assert time.time() - sample.stat().st_mtime < RETRY_AFTER_S


def test_the_labeller_does_not_hold_the_warehouse_while_it_classifies(live_home):
    """Classifying (the model, the LLM, saving embeddings) takes seconds: meanwhile the file must be free for the
    live writer and readers (another connection of this process could not open it read-only otherwise)."""
    import duckdb

    labeller = TemplateLabeller(llm=LLMConfig())
    classifier = labeller.classifier(live_home)
    classify, opened = classifier.classify, []

    def classify_and_read(*args, **kwargs):
        with duckdb.connect(str(live_home.duckdb), read_only=True) as con:  # fails while a writer is open here
            opened.append(con.execute("SELECT count(*) FROM templates").fetchone()[0])
        return classify(*args, **kwargs)

    classifier.classify = classify_and_read
    with tables.connect(live_home.duckdb) as con:
        con.execute("UPDATE templates SET label = NULL WHERE template_id IN (SELECT template_id FROM templates "
                    "LIMIT 3)")
    assert labeller(live_home).templates >= 3 and opened
    with tables.connect(live_home.duckdb, read_only=True) as con:
        assert tables.unlabelled_templates(con) == 0
