"""Conservation (lines read = stored + quarantined + purged) with a purge at every point of a bootstrap and
around a re-ingestion: what a purge removed is counted per landing file, in the warehouse and in the metadata
of the Parquet copies a load reads (`store.purged`), so it is counted once whenever the load comes."""

from __future__ import annotations

import json

import duckdb
import pyarrow.parquet as pq
import pytest

from logpilot_dagster.bootstrap import steps
from logpilot_dagster.ingest.sources import SourcesRegistry
from logpilot_dagster.lifecycle import purge as purge_module
from logpilot_dagster.store import purged, tables
from logpilot_dagster.store.layout import HomeLayout

SUBJECT = "cust_qz7741"
KEY = "nova/nova-compute.log.2026-10-30"
OTHER = "nova/nova-compute.log.2026-10-31"
# Three lines name the subject (two records, one quarantined), one a longer word that is kept.
LINES = (
    "2026-10-30 10:00:00.000 4279 INFO nova.compute.manager [req-1] Instance resized for account cust_qz7741\n"
    "2026-10-30 10:00:01.000 4279 INFO nova.compute.manager [req-2] Instance resized for account cust_qz77410\n"
    "2026-10-30 10:00:02.000 4279 INFO nova.compute.manager [req-3] Instance resized for account cust_qz7741\n"
    "2026-10-30 10:00:03.000 4279 INFO nova.compute.manager [req-4] Instance resized for account cust_ab1234\n"
    "garbage line naming cust_qz7741 without a header\n"
)
OTHER_LINES = "2026-10-31 10:00:00.000 4279 INFO nova.compute.manager [req-9] Instance resized for account cust_x\n"


@pytest.fixture
def landed(tmp_path) -> HomeLayout:
    layout = HomeLayout.from_env(tmp_path / "home").ensure()
    for key, text in ((KEY, LINES), (OTHER, OTHER_LINES)):
        (layout.landing / key).parent.mkdir(parents=True, exist_ok=True)
        (layout.landing / key).write_text(text)
    return layout


def _stage(layout: HomeLayout) -> None:
    steps.stage(layout, SourcesRegistry.load(home_file=layout.sources_file), [KEY, OTHER], workers=1)


def _load(layout: HomeLayout) -> None:
    with tables.connect(layout.duckdb) as con:
        steps.load(con, layout, [KEY, OTHER])


def _totals(layout: HomeLayout) -> dict[str, int]:
    with duckdb.connect(str(layout.duckdb), read_only=True) as con:
        return tables.conservation(con)


def _audit(layout: HomeLayout) -> list[tuple]:
    with duckdb.connect(str(layout.duckdb), read_only=True) as con:
        return con.execute("SELECT lines_purged, rows_deleted FROM purge_audit").fetchall()


def _stored_subject(layout: HomeLayout) -> int:
    with duckdb.connect(str(layout.duckdb), read_only=True) as con:
        return con.execute("SELECT count(*) FROM logs WHERE message LIKE '%cust_qz7741 %' OR message LIKE "
                           "'%cust_qz7741'").fetchone()[0]


def _bootstrap_with_a_purge_after(layout: HomeLayout, step: str) -> purge_module.PurgeReport | None:
    report = None
    for name, run in (("stage", _stage), ("mine", lambda x: steps.mine(x, [KEY, OTHER])),
                      ("parse", lambda x: steps.parse(x, [KEY, OTHER], workers=1)), ("load", _load)):
        run(layout)
        if name == step:
            report = purge_module.purge(layout, SUBJECT)
    return report


@pytest.mark.parametrize("step", ["stage", "mine", "parse"])
def test_a_purge_between_staging_and_load_is_counted_once_the_files_are_loaded(landed, step):
    """Before, the load stored fewer lines than the stage statistics said it read, and no purge counted them:
    conservation failed by the purged lines."""
    report = _bootstrap_with_a_purge_after(landed, step)
    totals = _totals(landed)
    assert tables.conserved(totals), totals
    assert totals["lines_read"] == 6 and totals["lines_purged"] == 3 and _stored_subject(landed) == 0
    assert report.lines_purged == 3 and _audit(landed) == [(3, 0)]  # nothing was in the warehouse yet


def test_a_purge_after_the_load_and_a_load_again_count_the_lines_once(landed):
    report = _bootstrap_with_a_purge_after(landed, "load")
    assert report.lines_purged == 3 and report.per_sink["logs"] == 2 and report.per_sink["quarantine"] == 1
    assert _audit(landed) == [(3, 3)]
    _load(landed)  # the load re-run: the files' counts replace the warehouse's own, not added to them
    totals = _totals(landed)
    assert tables.conserved(totals) and totals["lines_purged"] == 3, totals


def test_a_re_ingestion_of_a_landing_file_that_still_names_the_subject_balances(landed):
    """The landing file is the user's (not rewritten without --include-landing): staged again, the subject's
    lines are stored again, and the purge no longer counts them for that file; the audit keeps its record."""
    _bootstrap_with_a_purge_after(landed, "load")
    _stage(landed)
    steps.mine(landed, [KEY, OTHER])
    steps.parse(landed, [KEY, OTHER], workers=1)
    _load(landed)
    totals = _totals(landed)
    assert tables.conserved(totals) and totals["lines_purged"] == 0 and _stored_subject(landed) == 2, totals
    assert _audit(landed) == [(3, 3)]


def test_parsing_carries_what_a_purge_removed_from_the_staged_file(landed):
    _stage(landed)
    purge_module.purge(landed, SUBJECT)
    steps.mine(landed, [KEY])
    steps.parse(landed, [KEY], workers=1)
    counts = purged.removed(pq.read_schema(landed.parsed_file(KEY)).metadata)
    assert [rows_lines for rows_lines in counts.values()] == [[2, 2]]


def test_the_warehouse_sinks_counts_survive_a_kill_before_the_progress_is_saved(landed, monkeypatch):
    """A run killed between the logs sink's commit and the progress file after it: before, the finishing run
    recorded 0 rows for `logs` (nothing was left to delete there)."""
    _bootstrap_with_a_purge_after(landed, None)
    real_save = purge_module._Progress.save
    saves = []

    def killed_after_the_logs_sink(self, layout):
        saves.append(1)
        if len(saves) == 2:  # the save before editing, then the one after `logs`
            raise SystemExit("killed")
        real_save(self, layout)

    monkeypatch.setattr(purge_module._Progress, "save", killed_after_the_logs_sink)
    with pytest.raises(SystemExit):
        purge_module.purge(landed, SUBJECT, request_id="first")
    monkeypatch.setattr(purge_module._Progress, "save", real_save)
    report = purge_module.purge(landed, SUBJECT)
    assert report.request_id == "first" and report.per_sink["logs"] == 2 and report.lines_purged == 3
    assert _audit(landed) == [(3, 3)] and tables.conserved(_totals(landed))


def test_purges_recorded_before_the_ledger_still_count(tmp_path):
    """A warehouse from before `purged_lines`: its audit's lines move into the ledger once."""
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        tables.ensure_schema(con)
        con.execute("DROP TABLE purged_lines")
        con.execute("DELETE FROM schema_version WHERE version = ?", [len(tables.MIGRATIONS)])
        con.execute("INSERT INTO purge_audit (request_id, subject, requested_at, rows_deleted, lines_purged) "
                    "VALUES ('old', 'h', now(), 4, 5)")
    for _ in range(2):
        with tables.connect(path) as con:
            assert tables.conservation(con)["lines_purged"] == 5


def test_a_re_load_of_a_landing_file_whose_rows_were_tiered_counts_the_purge_once(landed, capsys):
    """Rows tiered to warm, purged there and from the copies, then the file loaded again: the load's counts
    replace the warm sink's ledger rows of that file (the files' counts include what was purged from it)."""
    from logpilot_dagster.cli import main

    _bootstrap_with_a_purge_after(landed, None)
    assert main(["tier", "--home", str(landed.home), "--now", "2027-06-01T00:00:00+00:00", "--json"]) == 0
    capsys.readouterr()
    purge_module.purge(landed, SUBJECT)
    _load(landed)
    totals = _totals(landed)
    assert totals["lines_purged"] == 3, totals


def test_a_subject_in_a_file_name_is_not_purged_from_the_copies_either(tmp_path):
    """The warehouse's sinks match what a row says, not where it came from: neither do the copies' (before, a
    subject naming the landing file removed every row of its copies, and a re-load dropped them all)."""
    layout = HomeLayout.from_env(tmp_path / "home").ensure()
    key = "nova/acme-compute.log.2026-10-30"
    (layout.landing / key).parent.mkdir(parents=True)
    (layout.landing / key).write_text(OTHER_LINES)
    steps.run_bootstrap(layout, workers=1)
    report = purge_module.purge(layout, "acme")
    assert report.lines_purged == 0 and pq.read_table(layout.staged_file(key)).num_rows == 1


def test_a_purge_killed_in_a_copy_sink_keeps_the_lines_of_the_files_it_had_rewritten(landed, monkeypatch):
    (landed.landing / OTHER).write_text(LINES.replace("2026-10-30", "2026-10-31"))
    _stage(landed)
    real_write = pq.write_table
    writes = []

    def killed_at_the_second_file(table, where, **kwargs):
        writes.append(where)
        if len(writes) == 2:
            raise SystemExit("killed")
        return real_write(table, where, **kwargs)

    monkeypatch.setattr(pq, "write_table", killed_at_the_second_file)
    with pytest.raises(SystemExit):
        purge_module.purge(landed, SUBJECT)
    monkeypatch.setattr(pq, "write_table", real_write)
    report = purge_module.purge(landed, SUBJECT)
    assert report.lines_purged == 6  # 2 records and 1 quarantined line in each file
    assert report.per_sink["staging"] == 4  # the killed run's file, and this run's
    steps.mine(landed, [KEY, OTHER])
    steps.parse(landed, [KEY, OTHER], workers=1)
    _load(landed)
    assert tables.conserved(_totals(landed)) and _totals(landed)["lines_purged"] == 6


def test_a_purge_waits_for_a_bootstrap_step_that_holds_the_copies(landed):
    """Stage, parse and load hold the copies' lock while they write or read them; a purge meanwhile stops before
    it edits a copy (it is run again), so no step reads a copy half-purged."""
    from logpilot_dagster.store.locks import file_lock

    _stage(landed)
    before = pq.read_table(landed.staged_file(KEY))
    with file_lock(landed.copies_lock, 1, "a test holding the copies"), pytest.raises(purge_module.PurgeIncomplete):
        purge_module.purge(landed, SUBJECT, wait_s=0.2)
    assert pq.read_table(landed.staged_file(KEY)).equals(before)
    assert purge_module.purge(landed, SUBJECT).lines_purged == 3


def test_a_reader_of_a_warehouse_from_before_the_ledger_and_a_purge_it_left_half_done(tmp_path, landed):
    """A warehouse the version before wrote (no `purged_lines`, not migrated until a writer opens it) is read
    as it was; a purge that version left part-way is finished with its lines in the ledger."""
    _bootstrap_with_a_purge_after(landed, None)
    with duckdb.connect(str(landed.duckdb)) as con:
        con.execute("DROP TABLE purged_lines")
        con.execute("DELETE FROM schema_version WHERE version = ?", [len(tables.MIGRATIONS)])
        before = tables.conservation(con)
        unaccounted = before["lines_read"] - before["lines_stored"] - before["lines_quarantined"]
        # The old version's run: the rows deleted, its progress file written, its audit not yet.
        con.execute("DELETE FROM logs WHERE message LIKE '%cust_qz7741' OR message LIKE '%cust_qz7741 %'")
    with duckdb.connect(str(landed.duckdb), read_only=True) as con:
        assert tables.conservation(con)["lines_purged"] == 0  # read-only: before, a missing table
    hashed = purge_module.subject_hash(landed, SUBJECT)
    landed.purge_partial.mkdir(parents=True, exist_ok=True)
    (landed.purge_partial / f"{hashed}.json").write_text(json.dumps({
        "request_id": "old", "per_sink": {"logs": 2}, "landing_rewritten": [], "seconds": 1.0,
        "unaccounted_before": unaccounted}))
    report = purge_module.purge(landed, SUBJECT)
    assert report.request_id == "old" and report.lines_purged == 3  # 2 by the old run, the quarantined one now
    assert tables.conserved(_totals(landed))
