"""live_ingest_sensor ticks (waiting for the bootstrap, batching from committed positions, nothing new, a batch
in flight) and the live_logs asset run with the range the sensor put in its run config."""

from __future__ import annotations

import json
from datetime import timedelta

from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    Definitions,
    RunRequest,
    SkipReason,
    build_sensor_context,
    materialize,
)

from logpilot_dagster.assets.live import live_logs
from logpilot_dagster.jobs.live import LIVE_BATCH_TAG, live_ingest_job, live_ingest_sensor
from logpilot_dagster.live.folder import FolderStream
from logpilot_dagster.live.produce import sample_records
from logpilot_dagster.live.stream import StreamRange
from logpilot_dagster.resources.llm import LLMResource
from logpilot_dagster.resources.storage import LogPilotStorage
from logpilot_dagster.resources.stream import FolderStreamResource
from logpilot_dagster.store import tables
from logpilot_dagster.store.layout import HomeLayout


def resources(layout: HomeLayout, batch_records: int = 1000) -> dict:
    return {"storage": LogPilotStorage(home=str(layout.home)),
            "stream": FolderStreamResource(batch_records=batch_records), "llm": LLMResource()}


def tick(layout: HomeLayout, cursor: str | None, instance: DagsterInstance, **kw):
    context = build_sensor_context(cursor=cursor, instance=instance, resources=resources(layout, **kw))
    return live_ingest_sensor(context)


def test_the_sensor_waits_for_the_bootstrap_watermark(tmp_path):
    layout = HomeLayout.from_env(tmp_path / "home").ensure()
    instance = DagsterInstance.ephemeral()
    FolderStream(layout.live).append(list(sample_records(10)))
    first = tick(layout, None, instance)
    assert isinstance(first, SkipReason) and "waiting for bootstrap_watermark" in first.skip_message
    tables.connect(layout.duckdb).close()  # a warehouse, but no T1 yet
    second = tick(layout, None, instance)
    assert isinstance(second, SkipReason) and "has not written T1" in second.skip_message


def test_ticks_request_one_bounded_batch_at_a_time_from_the_committed_positions(live_home):
    instance = DagsterInstance.ephemeral()
    latest = max(tables.bootstrap_t1(tables.connect(live_home.duckdb, read_only=True)).values())
    FolderStream(live_home.live).append(list(sample_records(2500, seed=2, start=latest + timedelta(seconds=1))))
    cursor, runs = None, 0
    while runs < 10:  # 2,500 records in batches of 1,000: three runs, then nothing new
        result = tick(live_home, cursor, instance)
        if isinstance(result, SkipReason):
            break
        (request,) = result.run_requests
        assert isinstance(request, RunRequest) and request.tags[LIVE_BATCH_TAG] == str(runs + 1)
        rng = StreamRange.from_config(request.run_config["ops"]["live_logs"]["config"]["range_json"])
        with tables.connect(live_home.duckdb, read_only=True) as con:
            assert rng.start == {k: v for k, v in {**dict.fromkeys(rng.start, 0),
                                                   **tables.live_positions(con, "folder")}.items()}
        assert sum(rng.end.values()) > sum(rng.start.values())
        outcome = materialize([live_logs], run_config=request.run_config, resources=resources(live_home),
                              instance=instance, tags=request.tags)
        assert outcome.success
        meta = outcome.asset_materializations_for_node("live_logs")[0].metadata
        assert meta["records_read"].value <= 1000
        cursor, runs = result.cursor, runs + 1
        assert json.loads(cursor)["batch"] == runs
    assert runs == 3
    assert "no new records" in result.skip_message
    with tables.connect(live_home.duckdb, read_only=True) as con:
        counts = tables.live_row_counts(con)
        totals = tables.conservation(con)
    assert counts["live_stored_twice"] == 0 and 0 < counts["live"] <= 2500
    assert tables.conserved(totals)


def test_no_new_request_while_a_batch_is_running(live_home):
    instance = DagsterInstance.ephemeral()
    FolderStream(live_home.live).append(list(sample_records(50, seed=2)))
    result = tick(live_home, None, instance)
    (request,) = result.run_requests
    job = Definitions(assets=[live_logs], jobs=[live_ingest_job],
                      resources=resources(live_home)).resolve_job_def("live_ingest_job")
    instance.create_run_for_job(job, run_config=request.run_config, tags=request.tags,
                                status=DagsterRunStatus.STARTED)
    waiting = tick(live_home, result.cursor, instance)
    assert isinstance(waiting, SkipReason) and "still running" in waiting.skip_message
    # Once that run is over, the next tick asks again from the committed positions (nothing committed here).
    run = instance.get_runs()[0]
    instance.report_run_failed(run)
    again = tick(live_home, result.cursor, instance)
    (retry,) = again.run_requests
    assert retry.run_config == request.run_config and retry.tags[LIVE_BATCH_TAG] == "2"



def test_the_definitions_carry_the_live_asset_job_sensor_and_stream(tmp_path):
    from logpilot_dagster.definitions import build_definitions
    from logpilot_dagster.resources.stream import LogStreamResource

    defs = build_definitions(str(tmp_path / "home"))
    assert defs.resolve_job_def("live_ingest_job") is not None
    assert defs.resolve_sensor_def("live_ingest_sensor").job_name == "live_ingest_job"
    assert isinstance(defs.resources["stream"], LogStreamResource)
    assert not (tmp_path / "home").exists()  # loading definitions does no I/O


def test_no_run_while_logpilot_live_holds_the_live_writer_lock(live_home):
    from logpilot_dagster.store.locks import file_lock

    FolderStream(live_home.live).append(list(sample_records(50, seed=2)))
    instance = DagsterInstance.ephemeral()
    with file_lock(live_home.live_lock, 1, "the live writer"):
        held = tick(live_home, None, instance)
    assert isinstance(held, SkipReason) and "another live writer" in held.skip_message
    assert tick(live_home, None, instance).run_requests  # released: a run is asked for


def test_a_tick_skips_with_the_reason_while_the_warehouse_stays_held(live_home, monkeypatch):
    """A bootstrap load holds the warehouse for as long as it loads: the tick says so and skips (it failed
    with DuckDB's lock error)."""
    import subprocess
    import sys

    from logpilot_dagster.jobs import live as live_jobs

    monkeypatch.setattr(live_jobs, "POSITIONS_WAIT_S", 0.3)
    code = (f"import duckdb, sys; con = duckdb.connect({str(live_home.duckdb)!r}); con.execute('BEGIN'); "
            "print('held', flush=True); sys.stdin.read(); con.execute('COMMIT'); con.close()")
    load = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert load.stdout.readline().strip() == "held"
        result = tick(live_home, None, DagsterInstance.ephemeral())
    finally:
        load.stdin.close()  # held until the tick is done
        load.wait(10)
    assert isinstance(result, SkipReason) and "held by another process" in result.skip_message
