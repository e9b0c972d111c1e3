"""A purge and the other owners: it holds the miner lock while it edits the sinks, so a live writer or a bootstrap
mining cannot save a state it read before the purge over the purged one; and it shares the warehouse with a
live writer's batches, which it waits for and never loses."""

from __future__ import annotations

import subprocess
import threading
import time
from contextlib import suppress

import pytest

from logpilot_dagster.cli import main
from logpilot_dagster.lifecycle import purge as purge_module
from logpilot_dagster.store import locks, sinks
from logpilot_dagster.store.layout import HomeLayout


def _recording_sinks(monkeypatch) -> list[float]:
    edited: list[float] = []
    sink = sinks.Sink("probe", "when the purge edits", lambda *_: 0, lambda *_: edited.append(time.monotonic()) or 0)
    monkeypatch.setattr(sinks, "SINKS", (sink,))
    return edited


def test_a_purge_waits_for_the_miner_lock_before_it_edits(tmp_path, monkeypatch):
    layout = HomeLayout(tmp_path)
    edited = _recording_sinks(monkeypatch)
    held, released = threading.Event(), []

    def owner() -> None:  # a live writer learning and saving
        with locks.file_lock(layout.miner_lock, 5, "the miner's state"):
            held.set()
            time.sleep(0.5)
            released.append(time.monotonic())

    thread = threading.Thread(target=owner)
    thread.start()
    held.wait(5)
    purge_module.purge(layout, "cust_qz7741")
    thread.join()
    assert edited and edited[0] >= released[0]


def test_a_purge_that_cannot_get_the_lock_says_so(tmp_path, monkeypatch, capsys):
    layout = HomeLayout(tmp_path)
    _recording_sinks(monkeypatch)
    monkeypatch.setattr(purge_module, "PURGE_WAIT_S", 0.2)
    with locks.file_lock(layout.miner_lock, 5, "the miner's state"):
        code = main(["purge", "--home", str(tmp_path), "--subject", "cust_qz7741"])
    assert code == 2
    err = capsys.readouterr().err
    assert "miner's state is held by another process" in err and "Traceback" not in err


def _hold_warehouse(path, insert: str | None = None):
    """Another process (a live writer's batch) that opens the warehouse for writing and holds it until its stdin
    is closed; returns once it holds the file. With `insert`: returns when it is about to open the file (which
    it waits for, like the live writer), then commits that row at once."""
    import subprocess
    import sys

    code = ("import sys; from logpilot_dagster.store import tables\n"
            "print('trying', flush=True)\n"
            f"con = tables.connect({str(path)!r})\n"
            "con.execute('BEGIN'); print('held', flush=True)\n"
            f"{'con.execute(' + repr(insert) + ')' if insert else 'sys.stdin.read()'}\n"
            "con.execute('COMMIT'); con.close()\n")
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "trying"
    if insert is None:
        assert child.stdout.readline().strip() == "held"
    return child


def _stored(layout: HomeLayout, rows: list[tuple[str, str, int]], days_ago: int = 0, quarantined_lines: int = 0,
            partition: str = "live/a.jsonl") -> None:
    """`rows` (source, message, lines) stored `days_ago` days back, with the ledger row that read them (and
    `quarantined_lines` more, for quarantine entries the test adds itself)."""
    from logpilot_dagster.store import tables

    with tables.connect(layout.duckdb) as con:
        line_no = 0
        for log_id, (source, message, lines) in enumerate(rows, 1):
            con.execute("INSERT INTO logs (log_id, ts, source, message, ingest_mode, partition_key, line_no, n_lines) "
                        "VALUES (?, now() - to_days(?), ?, ?, 'live', ?, ?, ?)",
                        [log_id, days_ago, source, message, partition, line_no, lines])
            line_no += lines
        con.execute("INSERT INTO landing_files VALUES (?, ?, ?, 0, ?, ?, ?, now(), now(), now())",
                    [partition, rows[0][0], line_no + quarantined_lines, len(rows), line_no, quarantined_lines])


# Two rows of the subject (three lines) and one of someone else.
_SUBJECT_ROWS = [("app", "user cust_qz7741 logged in", 1), ("app", "cust_qz7741 failed\n\tat x", 2), ("app", "disk full", 1)]


def test_a_purge_waits_for_a_live_batch_that_holds_the_warehouse(tmp_path, monkeypatch):
    """The purge's rewrite of the file (and its audit) meets a live writer's batch: it waits for it instead of
    failing with DuckDB's lock error after every sink was already edited."""
    from logpilot_dagster.store import tables

    layout = HomeLayout(tmp_path)
    _stored(layout, [("app", "user cust_qz7741 logged in", 1)])
    real, holders = tables.rewrite_database, []

    def rewrite_during_a_batch(path, *args):
        holders.append(_hold_warehouse(path))
        threading.Timer(1.0, holders[0].stdin.close).start()  # the batch commits while the rewrite waits
        return real(path, *args)

    monkeypatch.setattr(tables, "rewrite_database", rewrite_during_a_batch)
    report = purge_module.purge(layout, "cust_qz7741", verify=True)
    assert holders[0].wait(10) == 0
    assert report.per_sink["logs"] == 1 and report.verified
    with tables.connect(layout.duckdb, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM purge_audit").fetchone()[0] == 1


def test_a_batch_that_waits_for_the_rewrite_lands_in_the_new_file(tmp_path, monkeypatch):
    """A writer that opens the warehouse while the purge copies it must not open the old file: its commit would
    be lost with it. It waits until the new file is in place, and its row is there."""
    from logpilot_dagster.store import tables

    layout = HomeLayout(tmp_path)
    _stored(layout, [("app", "disk full on /var", 1)])
    real_replace, writers = tables.os.replace, []

    def replace_with_a_writer_waiting(src, dst):
        writers.append(_hold_warehouse(dst, insert="INSERT INTO logs (log_id, ts, source, message, ingest_mode, "
                                                   "partition_key, line_no, n_lines) VALUES (2, now(), 'app', "
                                                   "'late batch', 'live', 'live/a.jsonl', 1, 1)"))
        with suppress(subprocess.TimeoutExpired):
            writers[0].wait(2.0)  # the old file is still held: the writer cannot have committed there
        return real_replace(src, dst)

    monkeypatch.setattr(tables.os, "replace", replace_with_a_writer_waiting)
    tables.rewrite_database(layout.duckdb)
    monkeypatch.undo()
    assert writers[0].wait(20) == 0
    with tables.connect(layout.duckdb, read_only=True) as con:
        assert sorted(m for m, in con.execute("SELECT message FROM logs").fetchall()) == ["disk full on /var",
                                                                                       "late batch"]


def test_only_another_process_s_hold_is_waited_for_not_any_error_that_says_lock(tmp_path):
    """A missing or broken warehouse under a path that happens to hold "lock" fails at once with DuckDB's own
    reason; it was waited for and reported as held by another process."""
    import duckdb

    from logpilot_dagster.store import tables

    home = tmp_path / "blockstore"
    home.mkdir()
    began = time.monotonic()
    with pytest.raises(duckdb.IOException, match="does not exist"):
        tables.connect(home / "missing.duckdb", read_only=True, timeout_s=5)
    (home / "broken.duckdb").write_bytes(b"not a database" * 500)
    with pytest.raises(duckdb.Error) as broken:
        tables.connect(home / "broken.duckdb", timeout_s=5)
    assert not isinstance(broken.value, locks.Busy) and time.monotonic() - began < 2


def test_a_purge_stopped_part_way_says_what_it_did_not_that_nothing_was_edited(tmp_path, monkeypatch):
    """A sink whose store stays held after others were edited: the purge raises `PurgeIncomplete` naming what is
    done; the API answers 503 with that (it said "nothing was purged"), and a request file stays pending."""
    import json

    from fastapi.testclient import TestClient

    from logpilot_dagster.api.app import ApiSettings, create_app
    from logpilot_dagster.lifecycle import requests as purge_requests
    from logpilot_dagster.store import tables

    layout = HomeLayout(tmp_path)
    tables.connect(layout.duckdb).close()

    def held(*_):
        raise locks.Busy("the warehouse has been held by another process for more than 10 s")

    monkeypatch.setattr(sinks, "SINKS", (sinks.Sink("first", "edited", lambda *_: 0, lambda *_: 1),
                                         sinks.Sink("second", "held", lambda *_: 0, held)))
    with pytest.raises(purge_module.PurgeIncomplete, match=r"part-way \(done: first\)"):
        purge_module.purge(layout, "cust_qz7741")
    monkeypatch.setenv("LOGPILOT_HOME", str(tmp_path))
    with TestClient(create_app(ApiSettings(home=str(tmp_path)))) as api:
        answer = api.post("/purge", json={"subject": "cust_qz7741"})
    assert answer.status_code == 503 and "part-way" in answer.json()["detail"]
    assert "nothing was purged" not in answer.json()["detail"]
    layout.purge_requests.mkdir(parents=True)
    (layout.purge_requests / "r1.json").write_text(json.dumps({"subject": "cust_qz7741"}))
    (receipt,) = purge_requests.execute_pending(layout)
    assert "part-way" in receipt["pending"] and (layout.purge_requests / "r1.json").is_file()


def test_a_rewrite_removes_what_a_crashed_one_left(tmp_path):
    """A purge killed during its copy leaves the copy and its WAL (the tables' text, the subject included); the
    next rewrite removes both."""
    from logpilot_dagster.store import tables

    layout = HomeLayout(tmp_path)
    _stored(layout, [("app", "disk full on /var", 1)])
    copy = layout.duckdb.with_name(layout.duckdb.name + ".rewrite")
    for leftover in (copy, copy.with_name(copy.name + ".wal")):
        leftover.write_bytes(b"user cust_qz7741 logged in")
    tables.rewrite_database(layout.duckdb)
    assert sorted(p.name for p in layout.duckdb.parent.iterdir()) == [layout.duckdb.name]


def test_the_audit_of_a_purge_finished_by_a_second_run_counts_both_runs(tmp_path, monkeypatch):
    """What a purge stopped part-way removed is recorded with what the run that finishes it removes, under the
    first run's request id: the audit counted only the last run (the rows the first had deleted were lost)."""
    import json

    from logpilot_dagster.store import tables

    layout = HomeLayout(tmp_path)
    tables.connect(layout.duckdb).close()
    held = [True]

    def quarantine(*_):
        if held[0]:
            raise locks.Busy("the warehouse has been held by another process for more than 10 s")
        return 2

    logs = iter([3, 0, 0])  # the first run deletes the subject's rows; the later ones find none left
    monkeypatch.setattr(sinks, "SINKS", (sinks.Sink("logs", "rows", lambda *_: 0, lambda *_: next(logs)),
                                         sinks.Sink("quarantine", "lines", lambda *_: 0, quarantine)))
    with pytest.raises(purge_module.PurgeIncomplete):
        purge_module.purge(layout, "cust_qz7741", request_id="first")
    held[0] = False
    report = purge_module.purge(layout, "cust_qz7741", request_id="second")
    assert report.request_id == "first" and report.per_sink == {"logs": 3, "quarantine": 2}
    with tables.connect(layout.duckdb, read_only=True) as con:
        audit = con.execute("SELECT request_id, rows_deleted, per_sink FROM purge_audit").fetchall()
    assert [(r, n, json.loads(p)) for r, n, p in audit] == [("first", 5, {"logs": 3, "quarantine": 2})]
    assert not list(layout.purge_partial.iterdir())
    third = purge_module.purge(layout, "cust_qz7741", request_id="third")  # a new request starts afresh
    assert third.request_id == "third" and third.per_sink["quarantine"] == 2 and third.per_sink["logs"] == 0


def test_a_purge_over_two_runs_counts_the_lines_of_both_and_a_killed_finish_is_not_merged_again(tmp_path, monkeypatch):
    """The lines a purge removes are counted over all its runs, whatever was ingested between them, so the
    conservation check still balances; a finished purge killed before it dropped its partial counts is not
    taken for the same request by the next purge of that subject (its audit row would be overwritten)."""
    import shutil

    from logpilot_dagster.store import tables

    layout = HomeLayout(tmp_path)
    _stored(layout, _SUBJECT_ROWS)
    held = [True]

    def quarantine(*_):
        if held[0]:
            raise locks.Busy("the warehouse has been held by another process for more than 10 s")
        return 0

    logs_sink = next(s for s in sinks.SINKS if s.name == "logs")
    monkeypatch.setattr(sinks, "SINKS", (logs_sink, sinks.Sink("quarantine", "lines", lambda *_: 0, quarantine)))
    with pytest.raises(purge_module.PurgeIncomplete, match="purge first stopped part-way"):
        purge_module.purge(layout, "cust_qz7741", request_id="first")
    with tables.connect(layout.duckdb) as con:  # a live batch commits between the runs
        con.execute("INSERT INTO logs (log_id, ts, source, message, ingest_mode, partition_key, line_no, n_lines) "
                    "VALUES (4, now(), 'app', 'disk ok', 'live', 'live/b.jsonl', 0, 1)")
        con.execute("INSERT INTO landing_files VALUES ('live/b.jsonl', 'app', 1, 0, 1, 1, 0, now(), now(), now())")
    held[0] = False
    stale = tmp_path / "partial-copy"
    real_forget = purge_module._Progress.forget
    monkeypatch.setattr(purge_module._Progress, "forget",
                        lambda self, lay: (shutil.copytree(lay.purge_partial, stale), real_forget(self, lay)))
    report = purge_module.purge(layout, "cust_qz7741", request_id="second")
    assert (report.request_id, report.lines_purged, report.per_sink["logs"]) == ("first", 3, 2)
    with tables.connect(layout.duckdb, read_only=True) as con:
        assert tables.conserved(tables.conservation(con))
    monkeypatch.setattr(purge_module._Progress, "forget", real_forget)
    shutil.rmtree(layout.purge_partial)
    shutil.copytree(stale, layout.purge_partial)  # as if killed after the audit, before the file went
    again = purge_module.purge(layout, "cust_qz7741", request_id="third")
    assert again.request_id == "third" and again.lines_purged == 0
    with tables.connect(layout.duckdb, read_only=True) as con:
        audit = con.execute("SELECT request_id, rows_deleted, lines_purged FROM purge_audit ORDER BY 1").fetchall()
        assert audit == [("first", 2, 3), ("third", 0, 0)] and tables.conserved(tables.conservation(con))


def test_a_warm_file_rewritten_by_a_run_that_stopped_gets_its_catalog_entry_from_the_next(tmp_path, monkeypatch):
    """A run that rewrote a warm file and failed before its catalog entry was updated (the update refused here;
    a kill -9 there does the same): the next run found no hits in the file and skipped it, so `tier_files` kept
    the old counts for good (conservation off by the purged lines) and the rows removed were never counted."""
    from logpilot_dagster.lifecycle import tiering
    from logpilot_dagster.store import tables

    layout = HomeLayout(tmp_path)
    _stored(layout, [("app", "user cust_qz7741 logged in", 2), ("app", "disk full", 1)], days_ago=90)
    tiering.tier_once(layout, "warm", None, tiering.TierSettings())
    warm = next(s for s in sinks.SINKS if s.name == "warm")
    monkeypatch.setattr(sinks, "SINKS", (warm,))
    real_update, calls = tables.update_tier_file, []

    def held_once(*args):
        calls.append(args)
        if len(calls) == 1:
            raise locks.Busy("the warehouse has been held by another process for more than 30 s")
        return real_update(*args)

    monkeypatch.setattr(tables, "update_tier_file", held_once)
    with pytest.raises(purge_module.PurgeIncomplete):
        purge_module.purge(layout, "cust_qz7741")
    report = purge_module.purge(layout, "cust_qz7741", verify=True)
    assert report.per_sink["warm"] == 1 and report.lines_purged == 2 and report.verified
    with tables.connect(layout.duckdb, read_only=True) as con:
        assert con.execute("SELECT rows, lines FROM tier_files").fetchall() == [(1, 1)]
        assert tables.conserved(tables.conservation(con))


_KILLED_PURGE = """
import os, signal, sys
from pathlib import Path
from logpilot_dagster.lifecycle import purge as purge_module
from logpilot_dagster.store import sinks, tables
from logpilot_dagster.store.layout import HomeLayout

def killed(*_args, **_kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

at = sys.argv[2]
kept = [s for s in sinks.SINKS if s.name in ("logs", "quarantine")]
if at in ("first sink", "between sinks"):
    index = 0 if at == "first sink" else 1
    kept[index] = sinks.Sink(kept[index].name, "", kept[index].find, killed)
sinks.SINKS = tuple(kept)
if at == "rewrite":
    tables.rewrite_database = killed
if at == "audit":
    tables.record_purge = killed
if at == "forget":
    purge_module._Progress.forget = killed
purge_module.purge(HomeLayout(Path(sys.argv[1])), "cust_qz7741", request_id="killed")
"""


@pytest.mark.parametrize("at", ["first sink", "between sinks", "rewrite", "audit", "forget"])
def test_a_purge_killed_at_any_step_is_finished_by_the_next_run_and_conservation_holds(tmp_path, monkeypatch, at):
    """kill -9 of a purge at each of its steps, then the purge again: the subject is gone, the audit counts its
    lines once (the killed run's edits too: they were lost, so lines read no longer balanced), nothing is left."""
    import sys

    from logpilot_dagster.store import tables

    layout = HomeLayout(tmp_path / "home")
    _stored(layout, _SUBJECT_ROWS, quarantined_lines=1)
    with tables.connect(layout.duckdb) as con:
        con.execute("INSERT INTO quarantine (partition_key, source, origin, line_no, n_lines, reason, detail, raw_b64,"
                    " raw_size) VALUES ('live/a.jsonl', 'app', 'live/a.jsonl:4', 4, 1, 'bad_json', 'cust_qz7741', '', 1)")
    script = tmp_path / "killed_purge.py"
    script.write_text(_KILLED_PURGE)
    child = subprocess.run([sys.executable, str(script), str(layout.home), at], capture_output=True, timeout=120)
    assert child.returncode == -9, child.stderr.decode()[-2000:]
    monkeypatch.setattr(sinks, "SINKS", tuple(s for s in sinks.SINKS if s.name in ("logs", "quarantine")))
    report = purge_module.purge(layout, "cust_qz7741", request_id="again", verify=True)
    assert report.verified
    with tables.connect(layout.duckdb, read_only=True) as con:
        lines, rows = con.execute("SELECT sum(lines_purged), sum(rows_deleted) FROM purge_audit").fetchone()
        assert (lines, rows) == (4, 3) and tables.conserved(tables.conservation(con))
    assert not any(layout.purge_partial.iterdir())


def test_a_tier_sink_stopped_at_its_second_file_keeps_the_count_of_the_first(tmp_path, monkeypatch):
    """Two warm files hold the subject and the warehouse is held when the sink reaches the second: the first
    file's row is counted in the audit the next run records (it was lost: the sink's count was only taken
    when it returned), and the second file is rewritten only by the run that can update its entry."""
    from logpilot_dagster.lifecycle import tiering
    from logpilot_dagster.store import tables

    layout = HomeLayout(tmp_path)
    _stored(layout, [("app", "user cust_qz7741 logged in", 1), ("db", "cust_qz7741 failed", 1), ("db", "disk full", 1)],
            days_ago=90)
    tiering.tier_once(layout, "warm", None, tiering.TierSettings())
    monkeypatch.setattr(sinks, "SINKS", tuple(s for s in sinks.SINKS if s.name == "warm"))
    real_connect, writes = tables.connect, []

    def held_at_the_second_file(path, read_only=False, **kwargs):
        if not read_only:
            writes.append(path)
            if len(writes) == 2:
                raise locks.Busy("the warehouse has been held by another process for more than 30 s")
        return real_connect(path, read_only=read_only, **kwargs)

    monkeypatch.setattr(sinks.tables, "connect", held_at_the_second_file)
    with pytest.raises(purge_module.PurgeIncomplete):
        purge_module.purge(layout, "cust_qz7741")
    with real_connect(layout.duckdb, read_only=True) as con:
        assert sorted(con.execute("SELECT rows FROM tier_files").fetchall()) == [(0,), (2,)]
    monkeypatch.setattr(sinks.tables, "connect", real_connect)
    report = purge_module.purge(layout, "cust_qz7741", verify=True)
    assert report.per_sink["warm"] == 2 and report.lines_purged == 2 and report.verified
    with tables.connect(layout.duckdb, read_only=True) as con:
        assert sorted(con.execute("SELECT rows, lines FROM tier_files").fetchall()) == [(0, 0), (1, 1)]
        assert tables.conserved(tables.conservation(con))


def test_a_tier_sink_writes_the_rewritten_file_before_it_takes_the_warehouse(tmp_path, monkeypatch):
    """A live batch waits for the warehouse while a purge holds it: the tier sink holds it only to swap the
    written file in and update its catalog entry, not while it writes the file (seconds for a large one)."""
    from logpilot_dagster.lifecycle import tiering
    from logpilot_dagster.store import tables, tiers

    layout = HomeLayout(tmp_path)
    _stored(layout, [("app", "user cust_qz7741 logged in", 2), ("app", "disk full", 1)], days_ago=90)
    tiering.tier_once(layout, "warm", None, tiering.TierSettings())
    monkeypatch.setattr(sinks, "SINKS", tuple(s for s in sinks.SINKS if s.name == "warm"))
    held, order = [False], []
    real_connect, real_write = tables.connect, tiers.write_beside

    class Held:
        def __init__(self, *args, **kwargs):
            self.con = real_connect(*args, **kwargs)

        def __enter__(self):
            held[0] = True
            return self.con.__enter__()

        def __exit__(self, *exc):
            held[0] = False
            return self.con.__exit__(*exc)

    monkeypatch.setattr(tables, "connect", Held)
    monkeypatch.setattr(tiers, "write_beside", lambda *a: order.append(held[0]) or real_write(*a))
    report = purge_module.purge(layout, "cust_qz7741", verify=True)
    assert order == [False] and report.per_sink["warm"] == 1 and report.verified
