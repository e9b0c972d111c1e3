"""Conservation (lines read = stored + quarantined + purged) with a purge at every point of a bootstrap and
around a re-ingestion: what a purge removed is counted per landing file, in the warehouse and in the metadata
of the Parquet copies a load reads (`store.purged`), so it is counted once whenever the load comes."""

from __future__ import annotations

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
