"""Tiering with a fake clock (hot → warm → cold, a folder or a real S3-compatible server), tiering killed at
several points, and right-to-be-forgotten purges through the CLI, the API and the sensor."""

from __future__ import annotations

import json
import os
import re
import signal

import duckdb
import pytest
from support.faults import run_killed_at

from logpilot_dagster.bootstrap.steps import run_bootstrap
from logpilot_dagster.cli import main
from logpilot_dagster.store import sinks
from logpilot_dagster.store.tables import conservation, conserved

NOW = "2026-11-02T00:00:00+00:00"
SUBJECT = "cust_qz7741"
# The subject in a cold (2025-09), a warm (2026-06) and a hot (2026-10-30) line, in a quarantined line, and
# inside a longer word that must be kept.
SUBJECT_LINES = (
    "2025-09-03 10:00:00.000 4279 INFO nova.compute.manager [req-1] Instance resized for account cust_qz7741\n"
    "2026-06-10 10:00:00.000 4279 INFO nova.compute.manager [req-2] Instance resized for account cust_qz7741\n"
    "2026-10-30 10:00:00.000 4279 INFO nova.compute.manager [req-3] Instance resized for account cust_qz7741\n"
    "2026-10-30 10:00:01.000 4279 INFO nova.compute.manager [req-4] Instance resized for account cust_qz77410\n"
    "garbage line naming cust_qz7741 without a header\n"
)
SUBJECT_KEY = "nova/nova-compute.log.2026-10-30"


def _state(layout, archive=None):
    con = archive or duckdb.connect(str(layout.duckdb), read_only=True)
    try:
        totals = conservation(con)
        archive_rows = con.execute("SELECT count(*), count(DISTINCT log_id), sum(hash(log_id, message)) "
                                   "FROM logs_archive").fetchone()
        hot, = con.execute("SELECT count(*) FROM logs").fetchone()
        all_rows, = con.execute("SELECT count(*) FROM logs_all").fetchone()
        labelled, = con.execute("SELECT count(*) FROM logs_labelled").fetchone()
    finally:
        con.close()
    return totals, archive_rows, hot, all_rows, labelled


@pytest.fixture
def warehouse(home):
    (home.landing / SUBJECT_KEY).write_text(SUBJECT_LINES)
    run_bootstrap(home, workers=1)
    return home


def _tier(layout, capsys, *extra):
    assert main(["tier", "--home", str(layout.home), "--now", NOW, "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_tiering_over_the_sample_keeps_every_row_in_exactly_one_tier(warehouse, capsys):
    before = _state(warehouse)
    result = _tier(warehouse, capsys)
    assert result["warm"]["rows"] > 0 and result["cold"]["rows"] > 0
    totals, archive, hot, all_rows, labelled = _state(warehouse)
    assert archive == before[1] and archive[0] == archive[1]  # same rows, none twice
    assert conserved(totals) and totals == before[0]
    tiers = result["tiers"]
    assert tiers["hot"]["rows"] == hot and hot + tiers["warm"]["rows"] == all_rows == labelled
    assert tiers["hot"]["rows"] + tiers["warm"]["rows"] + tiers["cold"]["rows"] == archive[0]
    with duckdb.connect(str(warehouse.duckdb), read_only=True) as con:
        oldest_hot, = con.execute("SELECT min(ts) FROM logs").fetchone()
        newest_cold, = con.execute("SELECT max(max_ts) FROM tier_files WHERE tier = 'cold'").fetchone()
        warm_span = con.execute("SELECT min(min_ts), max(max_ts) FROM tier_files WHERE tier = 'warm'").fetchone()
    assert oldest_hot.isoformat() >= "2026-10-03"  # 30 days before the clock
    assert newest_cold.isoformat() < "2025-11-02"  # 365 days before it
    assert warm_span[0].isoformat() >= "2025-11-01" and warm_span[1].isoformat() < "2026-10-03"
    again = _tier(warehouse, capsys)
    assert again["warm"]["rows"] == again["cold"]["rows"] == 0 and _state(warehouse)[1] == archive


# (module, class or None, function, the call that dies) inside a tier run
KILL_AT = {
    "warm files written aside": ("logpilot_dagster.store.tables", None, "parquet_summary", 1),
    "warm files in place, not committed": ("logpilot_dagster.store.tables", None, "commit_warm_move", 1),
    "warm committed, not finished": ("logpilot_dagster.lifecycle.tiering", None, "_finish", 1),
    "cold file written aside": ("logpilot_dagster.store.tiers", None, "rows_in", 2),
    "cold file in place, not committed": ("logpilot_dagster.store.tables", None, "commit_cold_move", 2),
    "cold committed, warm files not removed": ("logpilot_dagster.lifecycle.tiering", None, "_finish", 3),
}
RUN_TIER = """
from datetime import datetime
from logpilot_dagster.lifecycle.tiering import tier
from logpilot_dagster.store.layout import HomeLayout

tier(HomeLayout.from_env(args[0]), datetime.fromisoformat(args[1]))
"""


@pytest.mark.parametrize("point", list(KILL_AT))
def test_tiering_killed_then_rerun_loses_and_duplicates_nothing(warehouse, capsys, point):
    before = _state(warehouse)
    child = run_killed_at(KILL_AT[point], RUN_TIER, str(warehouse.home), NOW)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    result = _tier(warehouse, capsys)
    assert result["warm"]["recovered"] or result["cold"]["recovered"]
    totals, archive, *_ = _state(warehouse)
    assert archive == before[1] and archive[0] == archive[1] and conserved(totals)
    assert not list(warehouse.tiering.glob("**/*.parquet"))  # no half move left behind
    with duckdb.connect(str(warehouse.duckdb), read_only=True) as con:
        listed = {p for p, in con.execute("SELECT path FROM tier_files").fetchall()}
    on_disk = {str(p) for p in [*warehouse.warm.rglob("*.parquet"), *warehouse.cold.rglob("*.parquet")]}
    assert listed == on_disk  # no orphan file, no listed file missing


def _home_bytes_holding(layout, needle: bytes) -> list[str]:
    """Files under the home (but landing/) whose bytes hold the needle as a whole word."""
    word = re.compile(rb"(?<![A-Za-z0-9_])" + re.escape(needle) + rb"(?![A-Za-z0-9_])")
    found = []
    for folder, _, files in os.walk(layout.home):
        if os.path.relpath(folder, layout.home).split(os.sep)[0] == "landing":
            continue
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                if word.search(handle.read()):
                    found.append(path)
    return found


def test_a_purge_reaches_every_tier_and_cache_and_keeps_longer_words(warehouse, capsys):
    _tier(warehouse, capsys)
    found = sinks.find_everywhere(warehouse, SUBJECT)
    assert found["logs"] == found["warm"] == found["cold"] == 1 and found["quarantine"] == 1, found
    assert _home_bytes_holding(warehouse, SUBJECT.encode())
    assert main(["purge", "--home", str(warehouse.home), "--subject", SUBJECT, "--verify", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["verified"] and answer["lines_purged"] == 4 and SUBJECT_KEY in answer["landing_files_mentioning"]
    assert _home_bytes_holding(warehouse, SUBJECT.encode()) == []  # not a byte left outside landing/
    totals, archive, *_ = _state(warehouse)
    assert conserved(totals) and totals["lines_purged"] == 4
    with duckdb.connect(str(warehouse.duckdb), read_only=True) as con:
        kept = con.execute("SELECT count(*) FROM logs_archive WHERE message LIKE '%cust_qz77410%'").fetchone()
        audit = con.execute("SELECT subject, lines_purged FROM purge_audit").fetchall()
    assert kept == (1,)
    assert audit == [(answer["subject_hash"], 4)] and SUBJECT not in audit[0][0]
    # Idempotent: a second purge finds nothing and --verify still passes.
    assert main(["purge", "--home", str(warehouse.home), "--subject", SUBJECT, "--verify", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["lines_purged"] == 0


def test_verify_fails_when_a_copy_is_left(warehouse, capsys, monkeypatch):
    from logpilot_dagster.store.sinks import SINKS, Sink

    leaky = tuple(s if s.name != "staging" else Sink(s.name, s.holds, s.find, lambda *_: 0) for s in SINKS)
    monkeypatch.setattr(sinks, "SINKS", leaky)
    assert main(["purge", "--home", str(warehouse.home), "--subject", SUBJECT, "--verify", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["left"]["staging"] > 0


def test_the_cold_tier_on_a_real_s3_compatible_server(warehouse, capsys, monkeypatch):
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    from logpilot_dagster.lifecycle.tiering import open_archive
    from logpilot_dagster.store import tiers

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        for key, value in {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "test",
                           "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
                           "LOGPILOT_COLD_URL": "s3://archive/logpilot"}.items():
            monkeypatch.setenv(key, value)
        boto3.client("s3", endpoint_url=f"http://{host}:{port}").create_bucket(Bucket="archive")
        before = _state(warehouse)
        result = _tier(warehouse, capsys)
        assert result["cold"]["rows"] > 0
        with duckdb.connect(str(warehouse.duckdb), read_only=True) as con:
            cold = [p for p, in con.execute("SELECT path FROM tier_files WHERE tier = 'cold'").fetchall()]
        assert cold and all(p.startswith("s3://archive/logpilot/") and tiers.exists(p) for p in cold)
        assert not list(warehouse.cold.glob("**/*.parquet"))
        totals, archive, *_ = _state(warehouse, open_archive(warehouse))
        assert archive == before[1] and conserved(totals)
        assert main(["purge", "--home", str(warehouse.home), "--subject", SUBJECT, "--verify", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["per_sink"]["cold"] == 1
        assert sum(tiers.read_table(p).num_rows for p in cold) == result["cold"]["rows"] - 1
    finally:
        server.stop()


def test_a_purge_request_file_goes_through_the_sensor_and_leaves_no_subject_in_dagster(warehouse):
    from dagster import DagsterInstance, SensorResult, SkipReason, build_sensor_context, materialize

    from logpilot_dagster.assets.lifecycle import purge_receipts
    from logpilot_dagster.jobs.lifecycle import purge_sensor
    from logpilot_dagster.resources.storage import LogPilotStorage

    storage = LogPilotStorage(home=str(warehouse.home))
    warehouse.purge_requests.mkdir()
    (warehouse.purge_requests / "req-1.json").write_text(json.dumps({"subject": SUBJECT}))
    instance = DagsterInstance.ephemeral()
    with build_sensor_context(instance=instance, resources={"storage": storage}) as context:
        tick = purge_sensor(context)
    assert isinstance(tick, SensorResult) and SUBJECT not in json.dumps(tick.run_requests[0].run_config)
    result = materialize([purge_receipts], run_config=tick.run_requests[0].run_config, instance=instance,
                         resources={"storage": storage})
    assert result.success
    receipt = json.loads((warehouse.purge_requests / "done" / "req-1.json").read_text())
    assert receipt["verified"] and receipt["lines_purged"] == 4 and SUBJECT not in json.dumps(receipt)
    assert not (warehouse.purge_requests / "req-1.json").exists()
    assert not any(SUBJECT in str(e) for e in instance.all_logs(result.run_id))
    with build_sensor_context(instance=instance, cursor=tick.cursor, resources={"storage": storage}) as context:
        assert isinstance(purge_sensor(context), SkipReason)


def test_a_purge_request_that_finds_the_miner_busy_stays_pending_and_is_asked_for_again(warehouse, monkeypatch):
    from dagster import DagsterInstance, SensorResult, SkipReason, build_sensor_context

    from logpilot_dagster.jobs import lifecycle as lifecycle_jobs
    from logpilot_dagster.lifecycle import purge as purge_module
    from logpilot_dagster.lifecycle.requests import execute_pending
    from logpilot_dagster.resources.storage import LogPilotStorage
    from logpilot_dagster.store.locks import file_lock

    warehouse.purge_requests.mkdir()
    (warehouse.purge_requests / "req-2.json").write_text(json.dumps({"subject": SUBJECT}))
    before = sinks.find_everywhere(warehouse, SUBJECT)
    monkeypatch.setattr(purge_module, "PURGE_WAIT_S", 0.2)
    with file_lock(warehouse.miner_lock, 5, "the miner's state"):  # a bootstrap mining
        (receipt,) = execute_pending(warehouse)
    assert receipt["request"] == "req-2.json" and "held by another process" in receipt["pending"]
    assert (warehouse.purge_requests / "req-2.json").exists() and sinks.find_everywhere(warehouse, SUBJECT) == before
    storage = LogPilotStorage(home=str(warehouse.home))
    instance = DagsterInstance.ephemeral()
    with build_sensor_context(instance=instance, resources={"storage": storage}) as context:
        first = lifecycle_jobs.purge_sensor(context)
    assert isinstance(first, SensorResult)
    with build_sensor_context(instance=instance, cursor=first.cursor, resources={"storage": storage}) as context:
        assert isinstance(lifecycle_jobs.purge_sensor(context), SkipReason)  # its run may still be going
    monkeypatch.setattr(lifecycle_jobs, "PURGE_RETRY_S", 0.0)
    with build_sensor_context(instance=instance, cursor=first.cursor, resources={"storage": storage}) as context:
        again = lifecycle_jobs.purge_sensor(context)
    assert isinstance(again, SensorResult) and again.run_requests[0].run_config == first.run_requests[0].run_config
    (receipt,) = execute_pending(warehouse)
    assert receipt["verified"] and not (warehouse.purge_requests / "req-2.json").exists()


def test_post_purge(warehouse, monkeypatch):
    from fastapi.testclient import TestClient

    from logpilot_dagster.api.app import create_app

    monkeypatch.setenv("LOGPILOT_HOME", str(warehouse.home))
    client = TestClient(create_app())
    assert client.post("/purge", json={"subject": ""}).status_code == 422
    from logpilot_dagster.api import purge as purge_api
    from logpilot_dagster.store.locks import file_lock

    monkeypatch.setattr(purge_api, "API_WAIT_S", 0.2)
    with file_lock(warehouse.miner_lock, 5, "the miner's state"):  # a bootstrap mining
        busy = client.post("/purge", json={"subject": SUBJECT})
    assert busy.status_code == 503 and "nothing was purged" in busy.json()["detail"]
    answer = client.post("/purge", json={"subject": SUBJECT})
    assert answer.status_code == 200, answer.text
    assert answer.json()["verified"] and answer.json()["lines_purged"] == 4
