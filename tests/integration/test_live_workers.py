"""A live batch decoded and matched on worker processes is the batch one process makes of it."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta

from logpilot_dagster.live.engine import LiveEngine
from logpilot_dagster.live.folder import FolderStream
from logpilot_dagster.live.produce import sample_records
from logpilot_dagster.live.workers import MIN_CHUNK, BatchWorkers
from logpilot_dagster.mining import LogMiner
from logpilot_dagster.store import tables


def _by_log_id(chunk) -> list[dict]:
    return sorted(chunk.rows.to_pylist(), key=lambda row: row["log_id"])


def _first_batch(layout, records: list[dict]):
    """The records appended to the folder stream and read back as the engine's first batch: (the records
    read, T1, the miner's stamp)."""
    stream = FolderStream(layout.live)
    stream.append(records)
    with LiveEngine(layout, stream, log=lambda m: None) as engine:
        t1, _ = engine.state()
        read = stream.read(engine.plan())
        return read.records, t1, engine.miner.stamp


def test_workers_and_one_process_make_the_same_rows(live_home):
    start = datetime.now(UTC) - timedelta(hours=1)
    records = list(sample_records(3 * MIN_CHUNK, seed=5, start=start))
    records[7] = {"ts": "not a time", "source": "nova", "message": "broken"}
    batch, t1, stamp = _first_batch(live_home, records)
    pooled, alone = BatchWorkers(live_home, workers=2), BatchWorkers(live_home, workers=1)
    try:
        two, one = pooled.process(batch, t1, None, stamp), alone.process(batch, t1, None, stamp)
        assert pooled._pool is not None and alone._pool is None  # the pool path was taken
    finally:
        pooled.close()
        alone.close()
    assert two.rows.num_rows == one.rows.num_rows == 3 * MIN_CHUNK - 1
    assert _by_log_id(two) == _by_log_id(one)
    assert two.quarantine_by_reason == one.quarantine_by_reason == {"bad_timestamp": 1}
    assert two.quarantined.to_pylist() == one.quarantined.to_pylist()


def test_workers_started_ahead_take_the_first_batch_and_close_at_once(live_home):
    """`start` (what `logpilot live` does before its imports): the pool is up and its miners loaded in the
    background; the first batch goes to it and gives the rows one process makes; closing a pool still
    starting does not hang."""
    start = datetime.now(UTC) - timedelta(hours=1)
    batch, t1, stamp = _first_batch(live_home, list(sample_records(3 * MIN_CHUNK, seed=6, start=start)))
    early, alone = BatchWorkers(live_home, workers=2).start(), BatchWorkers(live_home, workers=1).start()
    try:
        pool = early._pool
        assert pool is not None and alone._pool is None  # one worker: nothing to start
        two, one = early.process(batch, t1, None, stamp), alone.process(batch, t1, None, stamp)
        assert early._pool is pool  # the pool started ahead did the work
    finally:
        early.close()
        alone.close()
    assert _by_log_id(two) == _by_log_id(one)
    BatchWorkers(live_home, workers=2).start().close()


def test_a_backlog_on_worker_processes_is_stored_once(live_home):
    start = datetime.now(UTC) - timedelta(hours=1)
    stream = FolderStream(live_home.live)
    stream.append(list(sample_records(4 * MIN_CHUNK, seed=9, start=start)))
    with LiveEngine(live_home, stream, log=lambda m: None, workers=2, batch_records=2 * MIN_CHUNK) as engine:
        counts = engine.run_once()
    assert counts.conserved and counts.rows_stored == 4 * MIN_CHUNK and counts.batches >= 2
    assert gc.isenabled()  # paused for each batch only
    with tables.connect(live_home.duckdb, read_only=True) as con:
        live = tables.live_row_counts(con)
        unmatched = con.execute("SELECT count(*) FROM logs WHERE ingest_mode = 'live' AND template_id LIKE '%:0'"
                                ).fetchone()[0]
    assert live["live"] == 4 * MIN_CHUNK and live["live_stored_twice"] == 0 and unmatched == 0


def test_a_template_learned_while_the_next_batch_is_on_the_workers_is_learned_once(live_home):
    """The next batch is matched with the miner from before this batch's learning (pipelining); what comes
    back unmatched is matched again with the newest miner, so the new template is one, and no row keeps ':0'."""
    start = datetime.now(UTC) - timedelta(hours=1)
    records = list(sample_records(4 * MIN_CHUNK, seed=11, start=start))
    for i in range(0, len(records), 50):
        records[i] = {**records[i], "source": "nova", "message": f"Quantum flux sensor {i} drifted by {i % 97} ppm"}
    stream = FolderStream(live_home.live)
    stream.append(records)
    with LiveEngine(live_home, stream, log=lambda m: None, workers=2, batch_records=2 * MIN_CHUNK) as engine:
        counts = engine.run_once()
    assert counts.conserved and counts.rows_stored == len(records) and counts.batches == 2
    with tables.connect(live_home.duckdb, read_only=True) as con:
        ids = con.execute("SELECT DISTINCT template_id FROM logs WHERE message LIKE 'Quantum flux sensor %'"
                          ).fetchall()
        unmatched = con.execute("SELECT count(*) FROM logs WHERE template_id LIKE '%:0'").fetchone()[0]
    assert len(ids) == 1 and not ids[0][0].endswith(":0") and unmatched == 0


def test_learning_without_new_templates_is_saved_at_the_end_of_a_pass_unless_another_owner_saved(live_home):
    from logpilot_dagster.live.engine import _Miner
    from logpilot_dagster.mining import LogMiner

    owner = _Miner(live_home)
    known = next(t for t in owner.miner.templates() if "<*>" not in t.template)
    stamp = owner.stamp
    assert owner.learn({known.source: [known.example]}) == {}  # joins its template: no new id
    assert owner.unsaved and owner.stamp == stamp  # nothing refers to it yet: not saved now
    owner.flush()
    assert not owner.unsaved and owner.stamp != stamp

    # Another owner (a bootstrap's mining step) saves meanwhile: its state stands, ours is dropped.
    owner.learn({known.source: [known.example]})
    other = LogMiner.load(live_home.miner)
    other.learn("brand_new_source", ["a line only the other owner learned"])
    other.save(live_home.miner)
    owner.flush()
    assert "brand_new_source" in LogMiner.load(live_home.miner).sources()
    assert "brand_new_source" in owner.miner.sources() and not owner.unsaved


def test_a_worker_killed_mid_batch_costs_the_batch_a_redo_in_the_writer_not_a_record(live_home):
    import os
    import signal

    start = datetime.now(UTC) - timedelta(hours=1)
    batch, t1, stamp = _first_batch(live_home, list(sample_records(3 * MIN_CHUNK, seed=6, start=start)))
    pooled, alone = BatchWorkers(live_home, workers=2), BatchWorkers(live_home, workers=1)
    writer_miner, asked = LogMiner.load(live_home.miner), []
    try:
        job = pooled.submit(batch, t1, None, stamp, lambda: asked.append(1) or writer_miner)
        os.kill(next(iter(pooled._pool._processes)), signal.SIGKILL)
        redone, one = job.result(), alone.process(batch, t1, None, stamp)
        assert pooled._pool is None  # dropped; the next batch starts a new one
        assert asked == [1] and pooled._local.miner is None  # redone with the writer's miner, no copy loaded
        again = pooled.process(batch, t1, None, stamp)
    finally:
        pooled.close()
        alone.close()
    assert _by_log_id(redone) == _by_log_id(one) == _by_log_id(again)


def test_rows_matched_with_the_writer_s_own_state_are_not_matched_again_before_learning(live_home, monkeypatch):
    """What comes back unmatched is matched again with the writer's miner only when that miner differs from
    the one the rows were matched with: the same saved state gives the same result a second time."""
    from logpilot_dagster.live import engine as live_engine
    from logpilot_dagster.live.matching import Chunk, Matcher, merge

    start = datetime.now(UTC) - timedelta(hours=1)
    records = [{"ts": (start + timedelta(seconds=i)).isoformat(), "source": "nova",
                "message": f"Quantum flux sensor {i} drifted by {i % 97} ppm"} for i in range(40)]
    batch, t1, stamp = _first_batch(live_home, records)
    matcher = Matcher(live_home)
    chunk = matcher.process(batch, t1, None, stamp)
    assert chunk.miner_stamp == matcher.stamp == stamp
    assert merge([chunk, Chunk(chunk.rows, chunk.quarantined, miner_stamp=None)]).miner_stamp is None

    real, calls = live_engine._parse_batch, []
    monkeypatch.setattr(live_engine, "_parse_batch", lambda table, miner: calls.append(table.num_rows) or
                        real(table, miner))
    with LiveEngine(live_home, FolderStream(live_home.live), log=lambda m: None) as engine:
        engine.state()
        assert engine.miner.stamp == stamp and not engine.miner.unsaved
        rows, new = engine._learn_unmatched(chunk.rows, chunk.miner_stamp)
        assert calls == [40]  # matched once, after learning
        assert len(new) == 1 and not any(t.endswith(":0") for t in rows.column("template_id").to_pylist())
        calls.clear()
        # The same rows as matched before that learning (the miner's state has changed since): matched again.
        again, new_again = engine._learn_unmatched(chunk.rows, chunk.miner_stamp)
        assert calls == [40] and new_again == {} and not engine.miner.unsaved  # nothing learned twice
        assert again.column("template_id").to_pylist() == rows.column("template_id").to_pylist()
