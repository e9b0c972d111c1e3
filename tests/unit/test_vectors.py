"""The vector index: templates and runbook passages in Chroma, kept in step, searchable, purgeable."""

from __future__ import annotations

import json
import re

import pytest
from support.ask_fixtures import ask_home, indexed_home  # noqa: F401 (fixtures)
from support.fixtures import real_embedder  # noqa: F401 (fixture)

from logpilot_dagster.cli import main
from logpilot_dagster.store import sinks
from logpilot_dagster.store.layout import HomeLayout
from logpilot_dagster.vectors.index import (
    RUNBOOKS,
    TEMPLATES,
    IndexMissing,
    TemplateDoc,
    VectorIndex,
    clean_template,
    open_index,
)
from logpilot_dagster.vectors.runbooks import chunk_markdown


def _docs() -> list[TemplateDoc]:
    return [
        TemplateDoc("syslog:1", "syslog", "[<*>] Out of memory: Killed process <*> (<*>) total-vm:<*>",
                    "Critical Error", 12, "[1.2] Out of memory: Killed process 42 (java) total-vm:100kB"),
        TemplateDoc("billing:1", "billing", "Ledger database connection pool exhausted; halting payment processing",
                    "Critical Error", 3, "Ledger database connection pool exhausted; halting payment processing"),
        TemplateDoc("crm:1", "ModernCRM", "User <*> logged in.", "User Action", 40, "User cust_zed991 logged in."),
    ]


def test_sync_is_idempotent_and_follows_the_templates(tmp_path, real_embedder) -> None:  # noqa: F811
    index = VectorIndex(tmp_path / "chroma", real_embedder)
    assert index.sync_templates(_docs()).upserted == 3
    again = index.sync_templates(_docs())
    assert (again.upserted, again.deleted, again.refreshed, again.total) == (0, 0, 0, 3)
    # A live batch moves counts only: no embedding, the count updated in place.
    counted = [TemplateDoc(d.template_id, d.source, d.template, d.label, d.count + 5, d.example) for d in _docs()]
    moved = index.sync_templates(counted)
    assert (moved.upserted, moved.refreshed) == (0, 3)
    assert index.search("a user signed in", k=1)[0].count == 45
    assert index.sync_templates(counted).refreshed == 0
    relabelled = [*_docs()[:2], TemplateDoc("crm:1", "ModernCRM", "User <*> logged in.", "Security Alert", 41, None)]
    changed = index.sync_templates(relabelled)
    assert (changed.upserted, changed.deleted) == (1, 0)
    hit = index.search("a user signed in", k=1)[0]
    assert (hit.template_id, hit.label, hit.count, hit.example) == ("crm:1", "Security Alert", 41, None)
    gone = index.sync_templates(relabelled[:2])
    assert (gone.deleted, gone.total) == (1, 2)
    assert {h.template_id for h in index.search("user logged in", k=5)} == {"syslog:1", "billing:1"}


def test_a_paraphrase_finds_its_template(tmp_path, real_embedder) -> None:  # noqa: F811
    index = VectorIndex(tmp_path / "chroma", real_embedder)
    index.sync_templates(_docs())
    assert index.search("the kernel killed a process because memory ran out", k=1)[0].template_id == "syslog:1"
    assert index.search("no database connections left, payments stopped", k=1)[0].template_id == "billing:1"


def test_chroma_never_gets_an_embedding_function(tmp_path, real_embedder) -> None:  # noqa: F811
    index = VectorIndex(tmp_path / "chroma", real_embedder)
    index.sync_templates(_docs())
    collection = index.collection(TEMPLATES)
    with pytest.raises(ValueError):  # Chroma cannot embed text itself: it has no model to download
        collection.query(query_texts=["memory"], n_results=1)


def test_the_purge_sink_finds_and_deletes_a_subject(tmp_path, real_embedder) -> None:  # noqa: F811
    layout = HomeLayout.from_env(tmp_path / "home").ensure()
    assert sinks.find_everywhere(layout, "cust_zed991")["vector_index"] == 0  # no index: nothing, no folder
    assert not layout.chroma.exists()
    VectorIndex(layout.chroma, real_embedder).sync_templates(_docs())
    sink = next(s for s in sinks.SINKS if s.name == "vector_index")
    assert sink.find(layout, "cust_zed991") == 1
    assert sink.find(layout, "cust_zed99") == 0  # whole words only
    assert sink.delete(layout, "cust_zed991") == 1
    assert sink.delete(layout, "cust_zed991") == 0
    assert sink.find(layout, "cust_zed991") == 0
    # Not a byte of it is left anywhere in the index's files (Chroma keeps deleted text in its SQLite file).
    assert not [p for p in layout.home.rglob("*") if p.is_file() and b"cust_zed991" in p.read_bytes()]
    index = VectorIndex(layout.chroma, real_embedder)
    assert sorted(index.collection(TEMPLATES).get()["ids"]) == ["billing:1", "syslog:1"]
    assert index.search("out of memory", k=1)[0].template_id == "syslog:1"  # vectors carried over


def test_runbooks_are_cut_at_headings() -> None:
    passages = chunk_markdown("x.md", "# Disk full\n\nintro text\n\n## Diagnosis\nrun df -h\n\n## Fix\nfree space\n")
    assert [(p.heading, p.text) for p in passages] == [
        ("Disk full", "intro text"), ("Diagnosis", "run df -h"), ("Fix", "free space")]
    assert all(p.title == "Disk full" for p in passages)
    assert len({p.id for p in passages}) == 3


def test_clean_template_drops_wildcards_and_ids() -> None:
    assert clean_template("[<*> - - - - -] [instance: <*>] VM <*> (Lifecycle Event)") == "VM (Lifecycle Event)"


def test_indexed_sample_answers_search_cli(indexed_home, capsys) -> None:  # noqa: F811
    assert main(["search", "--home", str(indexed_home.home), "--json", "--k", "3",
                 "the kernel killed a process because memory ran out"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 3 and "Out of memory" in hits[0]["template"] and hits[0]["source"] == "syslog"
    assert set(hits[0]) >= {"template_id", "template", "source", "count", "label", "example", "score"}
    assert main(["search", "--home", str(indexed_home.home), "--json", "--runbooks", "--k", "2",
                 "how do I stop ssh brute force attempts"]) == 0
    hits = json.loads(capsys.readouterr().out)
    runbooks = [h for h in hits if h["kind"] == "runbook"]
    assert len(runbooks) == 2 and runbooks[0]["file"] == "ssh-brute-force.md"


def test_search_without_an_index_is_a_user_error(tmp_path, capsys) -> None:
    assert main(["search", "--home", str(tmp_path / "none"), "anything"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("logpilot search: ") and "template_vectors" in err
    with pytest.raises(IndexMissing):
        open_index(HomeLayout.from_env(tmp_path / "none"))


def test_runbook_collection_holds_every_sample_runbook(indexed_home, real_embedder) -> None:  # noqa: F811
    index = open_index(indexed_home, real_embedder)
    files = {m["file"] for m in index.collection(RUNBOOKS).get(include=["metadatas"])["metadatas"]}
    assert len(files) == 12 and all(re.fullmatch(r"[a-z0-9-]+\.md", f) for f in files)
