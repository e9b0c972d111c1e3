"""Live ingestion from the folder stream: the cutover at T1, exactly once across re-runs and kill -9, the
quarantine, partial lines, and readers getting into the warehouse while `logpilot live` runs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from logpilot_dagster.live.engine import LiveEngine, NoWatermark
from logpilot_dagster.live.folder import FolderStream
from logpilot_dagster.live.produce import sample_records
from logpilot_dagster.store import tables
from logpilot_dagster.store.layout import HomeLayout

QUIET = {"log": lambda message: None}


def t1_of(layout: HomeLayout) -> dict[str, datetime]:
    with tables.connect(layout.duckdb, read_only=True) as con:
        return tables.bootstrap_t1(con)


def around_t1(layout: HomeLayout, n: int, seed: int = 3) -> list[dict]:
    """Records of the sample's sources spread from 2 hours before the latest T1 to 2 hours after."""
    latest = max(t1_of(layout).values())
    step = timedelta(hours=4) / n
    return list(sample_records(n, seed=seed, start=latest - timedelta(hours=2), step=step))


def expected_after_t1(layout: HomeLayout, records: list[dict]) -> int:
    t1 = t1_of(layout)
    return sum(1 for r in records if r["source"] not in t1 or datetime.fromisoformat(r["ts"]) > t1[r["source"]])


def snapshot(layout: HomeLayout) -> tuple:
    with tables.connect(layout.duckdb, read_only=True) as con:
        rows = con.execute("SELECT count(*), sum(hash(log_id, message, template_id)) FROM logs").fetchone()
        quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()
        marks = con.execute("SELECT source, bootstrap_t1, live_offsets FROM ingest_watermarks ORDER BY 1").fetchall()
        ledger = con.execute("SELECT * EXCLUDE (loaded_at) FROM landing_files ORDER BY 1").fetchall()
        return rows, quarantined, marks, ledger


def totals(layout: HomeLayout) -> dict:
    with tables.connect(layout.duckdb, read_only=True) as con:
        return {**tables.live_row_counts(con), **tables.conservation(con)}


def test_records_on_both_sides_of_t1_are_split_at_t1_and_a_rerun_changes_nothing(live_home):
    records = around_t1(live_home, 3000)
    stream = FolderStream(live_home.live)
    stream.append(records[:1700], "a.jsonl")
    stream.append(records[1700:], "b.jsonl")
    wanted = expected_after_t1(live_home, records)
    assert 0 < wanted < len(records)  # the sample really straddles T1

    with LiveEngine(live_home, stream, batch_records=700, **QUIET) as engine:
        counts = engine.run_once()
    assert counts.records_read == 3000 and counts.batches >= 5
    assert counts.rows_stored == wanted
    assert counts.skipped_before_t1 == 3000 - wanted
    assert counts.conserved
    after = totals(live_home)
    assert after["live"] == wanted and after["live_stored_twice"] == 0
    assert tables.conserved(after)
    with tables.connect(live_home.duckdb, read_only=True) as con:
        earliest = con.execute("SELECT min(l.ts - w.bootstrap_t1) FROM logs l JOIN ingest_watermarks w "
                               "USING (source) WHERE l.ingest_mode = 'live'").fetchone()[0]
        origin, = con.execute("SELECT origin FROM logs WHERE ingest_mode = 'live' LIMIT 1").fetchone()
        positions = tables.live_positions(con, "folder")
    assert earliest > timedelta(0)  # nothing at or before its source's T1
    assert origin.startswith("live/") and origin.rsplit(":", 1)[1].isdigit()
    assert positions == {f"live/{n}": (live_home.live / n).stat().st_size for n in ("a.jsonl", "b.jsonl")}

    before = snapshot(live_home)
    # A re-run from the committed positions has nothing to read; re-running an old range stores nothing.
    with LiveEngine(live_home, stream, **QUIET) as engine:
        assert engine.run_once().records_read == 0
        from logpilot_dagster.live.stream import StreamRange

        again, _ = engine.run_range(StreamRange({"live/a.jsonl": 0, "live/b.jsonl": 0},
                                                dict(positions), "folder"))
    assert again.records_read == 3000 and again.rows_stored == 0 and again.quarantined == 0
    assert again.duplicates_skipped == wanted
    assert snapshot(live_home) == before


def test_a_partly_written_last_line_waits_for_its_newline(live_home):
    stream = FolderStream(live_home.live)
    later = datetime.now(UTC) - timedelta(minutes=5)
    done, partial = list(sample_records(3, seed=1, start=later))[:2], list(sample_records(3, seed=1, start=later))[2]
    stream.append(done)
    line = json.dumps(partial).encode()
    with (live_home.live / "stream.jsonl").open("ab") as handle:
        handle.write(line[:25])
    with LiveEngine(live_home, stream, **QUIET) as engine:
        assert engine.run_once().rows_stored == 2
        with (live_home.live / "stream.jsonl").open("ab") as handle:
            handle.write(line[25:] + b"\n")
        assert engine.run_once().rows_stored == 1
    assert totals(live_home)["live"] == 3


def test_bad_records_are_quarantined_with_their_reason(live_home):
    now = datetime.now(UTC)
    good = {"ts": (now - timedelta(minutes=1)).isoformat(), "source": "nova", "message": "ok for bob@example.com"}
    lines = [
        json.dumps(good).encode(),
        b"{not json",
        json.dumps({"ts": now.isoformat(), "source": "nova"}).encode(),  # no message
        json.dumps({"ts": now.isoformat(), "message": "who am i"}).encode(),  # no source
        json.dumps({"ts": "yesterday", "source": "nova", "message": "m"}).encode(),
        json.dumps({"ts": (now + timedelta(days=30)).isoformat(), "source": "nova", "message": "m"}).encode(),
        b"[" * 100 + b"]" * 100,
        b"",
        b"\xff\xfe mail alice@example.com",
        b'{"ts": "x", "message": "a\x00b"}',
    ]
    (live_home.live).mkdir(exist_ok=True)
    (live_home.live / "bad.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    with LiveEngine(live_home, FolderStream(live_home.live), **QUIET) as engine:
        counts = engine.run_once()
    assert counts.rows_stored == 1 and counts.quarantined == len(lines) - 1
    with tables.connect(live_home.duckdb, read_only=True) as con:
        reasons = [r for r, in con.execute("SELECT reason FROM quarantine WHERE partition_key = 'live/bad.jsonl' "
                                            "ORDER BY line_no").fetchall()]
        message, = con.execute("SELECT message FROM logs WHERE ingest_mode = 'live'").fetchone()
        raw = [r for r, in con.execute("SELECT raw_b64 FROM quarantine WHERE partition_key = 'live/bad.jsonl'")
               .fetchall()]
    assert reasons == ["bad_json", "bad_json", "no_source", "bad_timestamp", "future_timestamp", "bad_json",
                       "blank_line", "undecodable", "nul_bytes"]
    assert "bob@example.com" not in message
    import base64

    assert not any(b"alice@example.com" in base64.b64decode(r) for r in raw)
    assert tables.conserved(totals(live_home))


def test_no_watermark_means_no_live_ingestion(tmp_path):
    layout = HomeLayout.from_env(tmp_path / "empty").ensure()
    tables.connect(layout.duckdb).close()
    with pytest.raises(NoWatermark), LiveEngine(layout, FolderStream(layout.live), **QUIET) as engine:
        engine.run_once()
    result = _cli(layout, "live", "--once", "--json")
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "watermark" in result.stderr


# --- the command, in its own process ---------------------------------------------------------------------


def _env(layout: HomeLayout) -> dict[str, str]:
    env = {**os.environ, "LOGPILOT_HOME": str(layout.home)}
    env.pop("LOGPILOT_STREAM", None)
    return env


def _cli(layout: HomeLayout, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "logpilot_dagster.cli", *args], env=_env(layout),
                          capture_output=True, text=True, timeout=timeout)


def _popen(layout: HomeLayout, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "logpilot_dagster.cli", *args], env=_env(layout),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_produce_then_live_once_json(live_home):
    start = (max(t1_of(live_home).values()) + timedelta(seconds=1)).isoformat()
    produced = _cli(live_home, "produce", "--to", "folder", "--lines", "500", "--start", start, "--json")
    assert produced.returncode == 0, produced.stderr
    assert json.loads(produced.stdout)["records"] == 500
    assert len((live_home.live / "stream.jsonl").read_bytes().splitlines()) == 500
    run = _cli(live_home, "live", "--once", "--json", "--no-label")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    # Sources whose T1 is later than `start` keep some records back; every record is accounted for.
    assert report["records_read"] == 500 and report["conserved"]
    assert report["rows_stored"] + report["skipped_before_t1"] == 500
    assert totals(live_home)["live"] == report["rows_stored"]
    again = json.loads(_cli(live_home, "live", "--once", "--json", "--no-label").stdout)
    assert again["records_read"] == 0 and again["rows_stored"] == 0


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            todo += children
    return found


def test_live_killed_between_reading_and_writing_then_rerun_stores_each_record_once(live_home):
    latest = max(t1_of(live_home).values())
    records = list(sample_records(30_000, seed=5, start=latest + timedelta(seconds=1)))
    FolderStream(live_home.live).append(records)
    # Batches big enough for the worker processes: the next one is on them when the writer is killed.
    process = _popen(live_home, "live", "--once", "--batch-records", "12000", "--no-label")
    deadline = time.monotonic() + 90
    seen = ""
    while time.monotonic() < deadline:  # the first batch committed; the second is being read and parsed
        line = process.stderr.readline()
        seen += line
        if line.startswith("batch 1:") or not line:
            break
    workers = _descendants(process.pid)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert "batch 1:" in seen, seen
    assert workers  # the pool was running ...
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
        time.sleep(0.2)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]  # ... and ended with its owner
    stored_at_kill = totals(live_home)["live"]
    assert 5000 <= stored_at_kill < 30_000  # killed in the middle of the backlog, not after it

    rerun = _cli(live_home, "live", "--once", "--json", "--no-label")
    assert rerun.returncode == 0, rerun.stderr
    after = totals(live_home)
    assert after["live"] == 30_000 and after["live_stored_twice"] == 0
    assert tables.conserved(after)
    assert json.loads(rerun.stdout)["rows_stored"] == 30_000 - stored_at_kill


def test_a_reader_gets_in_while_logpilot_live_runs(live_home):
    latest = max(t1_of(live_home).values())
    FolderStream(live_home.live).append(list(sample_records(40_000, seed=9, start=latest + timedelta(seconds=1))))
    process = _popen(live_home, "live", "--batch-records", "4000", "--no-label", "--interval", "0.2")
    waits, seen = [], []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            began = time.monotonic()
            with tables.connect(live_home.duckdb, read_only=True, timeout_s=10) as con:
                waits.append(time.monotonic() - began)
                seen.append(con.execute("SELECT count(*) FROM logs WHERE ingest_mode = 'live'").fetchone()[0])
            if seen[-1] == 40_000:
                break
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert seen[-1] == 40_000, seen[-5:]
    assert len(set(seen)) >= 3  # the reader saw the backlog arrive batch by batch
    assert seen == sorted(seen)
    assert max(waits) < 1.5, sorted(waits)[-3:]
    assert process.returncode == 0, process.stderr.read()[-2000:]


def test_a_truncated_file_is_named_and_left_alone_while_others_are_read(live_home):
    stream = FolderStream(live_home.live)
    later = datetime.now(UTC) - timedelta(minutes=5)
    stream.append(list(sample_records(20, seed=1, start=later)), "old.jsonl")
    with LiveEngine(live_home, stream, **QUIET) as engine:
        assert engine.run_once().rows_stored == 20
    (live_home.live / "old.jsonl").write_bytes(b"")  # rotated by truncation: offsets no longer mean anything
    stream.append(list(sample_records(5, seed=2, start=later)), "old.jsonl")
    stream.append(list(sample_records(7, seed=3, start=later)), "new.jsonl")
    said = []
    with LiveEngine(live_home, stream, log=said.append) as engine:
        counts = engine.run_once()
    assert counts.rows_stored == 7
    assert any("live/old.jsonl" in line and "truncated" in line for line in said)
    assert totals(live_home)["live"] == 27


def test_a_batch_too_big_for_the_writers_memory_is_written_with_more(live_home, monkeypatch):
    """DuckDB's memory for a live batch is kept small (its checkpoints stay small); a batch that needs more is
    rolled back and written again with the larger limit, once, with nothing lost or doubled."""
    monkeypatch.setattr(tables, "DEFAULT_LIVE_MEMORY", "4MB")
    calls = []
    write = tables._write_live_batch
    monkeypatch.setattr(tables, "_write_live_batch", lambda *a: calls.append(1) or write(*a))
    latest = max(t1_of(live_home).values())
    FolderStream(live_home.live).append(list(sample_records(3000, seed=3, start=latest + timedelta(seconds=1))))
    with LiveEngine(live_home, FolderStream(live_home.live), log=lambda m: None) as engine:
        counts = engine.run_once()
    assert counts.rows_stored == 3000 and counts.conserved and len(calls) == 2  # the first try ran out
    after = totals(live_home)
    assert after["live"] == 3000 and after["live_stored_twice"] == 0 and tables.conserved(after)


def test_a_t1_raised_after_the_batch_was_decoded_still_holds_at_the_write(live_home):
    """A bootstrap load can raise a source's T1 while a live batch is on its way; the write checks T1 as
    committed, so the bootstrap's side of it is not stored twice."""
    latest = max(t1_of(live_home).values())
    records = list(sample_records(2000, seed=8, start=latest + timedelta(seconds=1)))
    FolderStream(live_home.live).append(records)
    source = records[0]["source"]
    raised = latest + timedelta(seconds=1, milliseconds=1000)  # the first ~1000 records' time
    behind = sum(1 for r in records if r["source"] == source and datetime.fromisoformat(r["ts"]) <= raised)
    assert behind > 0
    with LiveEngine(live_home, FolderStream(live_home.live), log=lambda m: None) as engine:
        engine.state()  # the engine decodes with this T1 ...
        with tables.connect(live_home.duckdb) as con:  # ... and the bootstrap raises it meanwhile
            con.execute("UPDATE ingest_watermarks SET bootstrap_t1 = ? WHERE source = ?", [raised, source])
        counts, _ = engine.run_range(engine.plan(fresh=False))
    assert counts.skipped_before_t1 == behind and counts.conserved
    assert counts.rows_stored == 2000 - behind
    with tables.connect(live_home.duckdb, read_only=True) as con:
        assert tables.live_rows_at_or_before_t1(con) == 0


def _row_groups(con) -> int:
    return con.execute("SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('logs')").fetchone()[0]


def test_a_catch_up_merges_its_row_groups_once_at_its_last_batch(live_home, monkeypatch):
    """While the next batch is in hand, a batch's checkpoint leaves the row groups as they are (merging them
    after every batch compressed the same rows again and again); the pass's last batch merges them."""
    groups: list[tuple[bool, int]] = []
    write = tables.write_live_batch

    def counting(con, *args, **kwargs):
        written = write(con, *args, **kwargs)
        groups.append((args[-1], _row_groups(con)))
        return written

    monkeypatch.setattr(tables, "write_live_batch", counting)
    latest = max(t1_of(live_home).values())
    FolderStream(live_home.live).append(list(sample_records(3000, seed=4, start=latest + timedelta(seconds=1))))
    with LiveEngine(live_home, FolderStream(live_home.live), batch_records=500, log=lambda m: None,
                    workers=1) as engine:
        counts = engine.run_once()
    assert counts.batches == 6 and counts.rows_stored == 3000 and counts.conserved
    assert [more for more, _ in groups] == [True] * 5 + [False]
    kept = [n for _, n in groups]
    assert kept == list(range(kept[0], kept[0] + 6))  # one row group more per batch: none merged meanwhile
    with tables.connect(live_home.duckdb, read_only=True) as con:
        assert _row_groups(con) < kept[-1]  # the last batch's checkpoint merged them


def test_a_catch_up_puts_the_vacuum_setting_back(live_home, monkeypatch):
    """`max_vacuum_tasks` belongs to the database, not the connection: another connection of the process, open
    meanwhile, must not be left without vacuum (its deletes would never be reclaimed), after a pass stopped
    with a batch in hand or a batch whose write failed."""
    latest = max(t1_of(live_home).values())
    FolderStream(live_home.live).append(list(sample_records(1000, seed=5, start=latest + timedelta(seconds=1))))
    stop = threading.Event()
    with tables.connect(live_home.duckdb) as other:
        default = other.execute("SELECT current_setting('max_vacuum_tasks')").fetchone()[0]

        def failing(*_):
            assert other.execute("SELECT current_setting('max_vacuum_tasks')").fetchone()[0] == 0  # off meanwhile
            raise RuntimeError("the write failed")

        with monkeypatch.context() as patch:
            patch.setattr(tables, "_write_within_memory", failing)
            with LiveEngine(live_home, FolderStream(live_home.live), batch_records=500, log=lambda m: None,
                            workers=1) as engine, pytest.raises(RuntimeError, match="the write failed"):
                engine.run_once()
        assert other.execute("SELECT current_setting('max_vacuum_tasks')").fetchone()[0] == default
        with LiveEngine(live_home, FolderStream(live_home.live), batch_records=500, log=lambda m: stop.set(),
                        workers=1) as engine:
            assert engine.run_once(stop).batches == 1  # stopped with the next batch in hand
        assert other.execute("SELECT current_setting('max_vacuum_tasks')").fetchone()[0] == default


def test_a_catch_up_stopped_with_a_batch_in_hand_still_merges_its_row_groups(live_home, monkeypatch):
    """Left to the next connection, the merge would run without the writer's memory limit (the labeller's)."""
    groups: list[int] = []
    write = tables.write_live_batch

    def counting(con, *args, **kwargs):
        written = write(con, *args, **kwargs)
        groups.append(_row_groups(con))
        return written

    monkeypatch.setattr(tables, "write_live_batch", counting)
    latest = max(t1_of(live_home).values())
    FolderStream(live_home.live).append(list(sample_records(3000, seed=6, start=latest + timedelta(seconds=1))))
    stop = threading.Event()
    batches = []
    with LiveEngine(live_home, FolderStream(live_home.live), batch_records=500, workers=1,
                    log=lambda m: batches.append(m) if len(batches) < 2 else stop.set()) as engine:
        assert engine.run_once(stop).batches == 3
    assert groups == list(range(groups[0], groups[0] + 3))  # none merged while the next batch was in hand
    with tables.connect(live_home.duckdb, read_only=True) as con:
        assert _row_groups(con) < groups[-1]


def test_logpilot_live_waits_out_a_warehouse_held_for_longer_than_a_batch_waits(live_home, monkeypatch):
    """A bootstrap load or a tiering move can hold the warehouse for minutes: the continuous writer says it is
    waiting and tries again (it exited on the first pass that could not get in), and stores everything after."""
    from logpilot_dagster.live import engine as live_engine

    monkeypatch.setattr(live_engine, "BUSY_RETRY_S", 0.2)
    latest = max(t1_of(live_home).values())
    FolderStream(live_home.live).append(list(sample_records(500, seed=4, start=latest + timedelta(seconds=1))))
    code = (f"import duckdb, sys; con = duckdb.connect({str(live_home.duckdb)!r}); con.execute('BEGIN'); "
            "print('held', flush=True); sys.stdin.read(); con.execute('COMMIT'); con.close()")
    load = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert load.stdout.readline().strip() == "held"
    said, stop = [], threading.Event()
    with LiveEngine(live_home, FolderStream(live_home.live), log=said.append, lock_timeout_s=0.3) as engine:
        runner = threading.Thread(target=engine.run_forever, args=(stop, 0.1))
        runner.start()
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not any(line.startswith("waiting") for line in said):
                time.sleep(0.05)
            load.stdin.close()  # the load ends once the writer has said it waits
            deadline = time.monotonic() + 60
            # Not `totals`: this process's writer and a reader of the same file must not overlap.
            while time.monotonic() < deadline and not any("500 stored" in line for line in said):
                time.sleep(0.1)
        finally:
            stop.set()
            runner.join(30)
            with contextlib.suppress(OSError, ValueError):
                load.stdin.close()
            load.wait(10)
    assert not runner.is_alive()
    assert any(line.startswith("waiting") and "held by another process" in line for line in said), said
    after = totals(live_home)
    assert after["live"] == 500 and after["live_stored_twice"] == 0 and tables.conserved(after)


def test_a_batch_read_before_a_purge_is_not_stored_or_learned_after_it(live_home):
    """The purge runs while a batch holding its subject is on its way (read, matched, not yet learned or
    committed): nothing of the subject may reach the tables or the miner after the purge. The batch is read
    again once the purge is done, and the blanked records are quarantined; every record is accounted for."""
    from logpilot_dagster.lifecycle.purge import purge
    from logpilot_dagster.store import sinks

    subject = "cust_qz7741"
    latest = max(t1_of(live_home).values())
    start = latest + timedelta(seconds=1)
    records = list(sample_records(300, seed=12, start=start))
    for i in range(0, 300, 15):  # 20 records: a template nothing learned yet, and the subject in it
        records[i] = {**records[i], "source": "nova", "message": f"Quantum flux calibrated for {subject} run {i}"}
    FolderStream(live_home.live).append(records)
    said, purges = [], []
    with LiveEngine(live_home, FolderStream(live_home.live), log=said.append, workers=1) as engine:
        submit = engine._submit

        def submit_then_purge(read):
            job = submit(read)  # matched at once, in this process (a small batch)
            if not purges:
                purges.append(purge(live_home, subject))
            return job

        engine._submit = submit_then_purge
        counts = engine.run_once()
    assert purges and any("a purge ran while this batch was on its way" in line for line in said), said
    assert sinks.find_everywhere(live_home, subject) == dict.fromkeys((s.name for s in sinks.SINKS), 0)
    after = totals(live_home)
    assert counts.rows_stored == 280 and counts.quarantine_by_reason == {"blank_line": 20}
    assert after["live"] == 280 and after["live_stored_twice"] == 0 and tables.conserved(after)


def test_live_once_stops_with_the_reason_when_the_warehouse_stays_held(live_home):
    """`--once` meets a warehouse held for longer than a batch waits (a bootstrap load): `Busy` with the reason,
    which the CLI prints as one line. The continuous writer waits it out instead (the test above)."""
    from logpilot_dagster.store.locks import Busy

    code = (f"import duckdb, sys; con = duckdb.connect({str(live_home.duckdb)!r}); con.execute('BEGIN'); "
            "print('held', flush=True); sys.stdin.readline(); con.execute('COMMIT'); con.close()")
    load = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert load.stdout.readline().strip() == "held"
        with (LiveEngine(live_home, FolderStream(live_home.live), **QUIET, lock_timeout_s=0.2) as engine,
              pytest.raises(Busy, match="held by another process")):
            engine.run_once()
    finally:
        load.stdin.close()
        load.wait(10)


def test_an_idle_continuous_writer_looks_at_the_stream_without_opening_the_warehouse(live_home, monkeypatch):
    """`logpilot live` with nothing new plans a pass every interval; each opened DuckDB to read the positions it
    had itself committed (38 ms of CPU a second). Records appended later are stored all the same, and the state
    is read from DuckDB again every `STATE_REFRESH_S`."""
    from logpilot_dagster.live import engine as live_engine

    monkeypatch.setattr(live_engine, "STATE_REFRESH_S", 3.0)
    latest = max(t1_of(live_home).values())
    opened, plans = [], []
    real_connect, real_plan = tables.connect, FolderStream.plan
    monkeypatch.setattr(tables, "connect", lambda *a, **k: opened.append(time.monotonic()) or real_connect(*a, **k))
    monkeypatch.setattr(FolderStream, "plan", lambda self, *a, **k: plans.append(1) or real_plan(self, *a, **k))

    def wait_for(condition, seconds: float = 60) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not condition():
            time.sleep(0.02)
        return condition()

    said, stop = [], threading.Event()
    with LiveEngine(live_home, FolderStream(live_home.live), log=said.append, workers=1) as engine:
        runner = threading.Thread(target=engine.run_forever, args=(stop, 0.02))
        runner.start()
        try:
            assert wait_for(lambda: len(plans) >= 20)  # 20 idle passes
            idle_opened = len(opened)
            FolderStream(live_home.live).append(list(sample_records(200, seed=5, start=latest + timedelta(seconds=1))))
            assert wait_for(lambda: any("200 stored" in line for line in said)), said
            stored_at = len(opened)
            assert wait_for(lambda: len(opened) > stored_at, 30)  # the refresh
        finally:
            stop.set()
            runner.join(30)
    assert not runner.is_alive() and idle_opened == 1
