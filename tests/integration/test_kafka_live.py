"""Live ingestion from Kafka, against the real tansu broker (several partitions): T1 filtering although the
broker answers time look-ups with the earliest offset, exactly once across re-runs and kill -9, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from logpilot_dagster.bench.tansu import create_topic, tansu_broker
from logpilot_dagster.live.engine import LiveEngine
from logpilot_dagster.live.kafka import KafkaStream
from logpilot_dagster.live.produce import sample_records
from logpilot_dagster.live.stream import StreamRange
from logpilot_dagster.store import tables

pytestmark = pytest.mark.e2e
QUIET = {"log": lambda message: None}
PARTITIONS = 3


@pytest.fixture(scope="module")
def broker():
    with tansu_broker() as running:
        yield running


@pytest.fixture
def topic(broker, request) -> str:
    name = "t-" + request.node.name.replace("_", "-")[:40]
    create_topic(broker.bootstrap, name, PARTITIONS)
    return name


def t1_of(layout):
    with tables.connect(layout.duckdb, read_only=True) as con:
        return tables.bootstrap_t1(con)


def totals(layout):
    with tables.connect(layout.duckdb, read_only=True) as con:
        return {**tables.live_row_counts(con), **tables.conservation(con)}


def test_kafka_records_on_both_sides_of_t1_exactly_once(live_home, broker, topic):
    t1 = t1_of(live_home)
    latest = max(t1.values())
    records = list(sample_records(4000, seed=3, start=latest - timedelta(hours=2), step=timedelta(hours=4) / 4000))
    wanted = sum(1 for r in records if r["source"] not in t1 or datetime.fromisoformat(r["ts"]) > t1[r["source"]])
    assert 0 < wanted < 4000
    with KafkaStream(broker.bootstrap, topic, poll_timeout_s=1.0) as stream:
        stream.append(records)
        with LiveEngine(live_home, stream, batch_records=1200, **QUIET) as engine:
            counts = engine.run_once()
            # tansu answers the time look-up with offset 0, so every record was read and filtered by T1.
            assert counts.records_read == 4000
            assert counts.rows_stored == wanted and counts.skipped_before_t1 == 4000 - wanted
            with tables.connect(live_home.duckdb, read_only=True) as con:
                positions = tables.live_positions(con, stream.key)
                origins = {o.rsplit(":", 1)[0] for o, in con.execute(
                    "SELECT DISTINCT origin FROM logs WHERE ingest_mode = 'live'").fetchall()}
            assert sum(positions.values()) == 4000 and len(positions) == PARTITIONS
            assert origins == {f"kafka/{topic}/{p}" for p in range(PARTITIONS)}
            assert engine.run_once().records_read == 0  # caught up: an empty bounded poll
            # The same range again (a re-run, or a broker answering earlier offsets): nothing new stored.
            again, _ = engine.run_range(StreamRange({k: 0 for k in positions}, {k: v for k, v in positions.items()},
                                                    stream.key))
            assert again.rows_stored == 0 and again.duplicates_skipped == wanted
            # Records appended later are picked up from the committed offsets.
            more = list(sample_records(300, seed=4, start=latest + timedelta(hours=3)))
            stream.append(more)
            assert engine.run_once().rows_stored == 300
    after = totals(live_home)
    assert after["live"] == wanted + 300 and after["live_stored_twice"] == 0
    assert tables.conserved(after)


class _NoTimeLookup:
    """A consumer whose broker finds no offset at or after the time asked (-1), as Kafka answers when every
    record of a partition is older than T1."""

    def offsets_for_times(self, partitions, timeout):
        assert timeout > 0
        for tp in partitions:
            tp.offset = -1
        return partitions

    def get_watermark_offsets(self, tp, timeout, cached):
        return (7, 1)  # only the low watermark is trusted


def test_no_offset_for_the_time_starts_at_the_beginning_and_filters():
    stream = KafkaStream("127.0.0.1:9", "t")
    stream._consumer = _NoTimeLookup()
    assert stream._start_offsets([0, 1], datetime(2026, 1, 1, tzinfo=UTC)) == {"kafka/t/0": 7, "kafka/t/1": 7}


def _env(layout, broker, topic):
    return {**os.environ, "LOGPILOT_HOME": str(layout.home), "LOGPILOT_STREAM": "kafka",
            "LOGPILOT_KAFKA_BOOTSTRAP": broker.bootstrap, "LOGPILOT_KAFKA_TOPIC": topic}


def test_cli_produce_and_live_on_kafka_with_kill_and_rerun(live_home, broker, topic):
    env = _env(live_home, broker, topic)
    start = (max(t1_of(live_home).values()) + timedelta(seconds=1)).isoformat()
    produced = subprocess.run([sys.executable, "-m", "logpilot_dagster.cli", "produce", "--to", "kafka",
                               "--lines", "20000", "--start", start, "--json"],
                              env=env, capture_output=True, text=True, timeout=120)
    assert produced.returncode == 0, produced.stderr
    assert json.loads(produced.stdout)["records"] == 20000
    process = subprocess.Popen([sys.executable, "-m", "logpilot_dagster.cli", "live", "--once",
                                "--batch-records", "3000", "--no-label"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline, seen = time.monotonic() + 90, ""
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        seen += line
        if line.startswith("batch 1:") or not line:
            break
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert "batch 1:" in seen, seen
    at_kill = totals(live_home)["live"]
    assert 0 < at_kill < 20000
    rerun = subprocess.run([sys.executable, "-m", "logpilot_dagster.cli", "live", "--once", "--json", "--no-label"],
                           env=env, capture_output=True, text=True, timeout=180)
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    after = totals(live_home)
    # Records of sources whose T1 is after `start` are the bootstrap's; the rest is stored exactly once.
    assert after["live_stored_twice"] == 0 and tables.conserved(after)
    assert after["live"] == at_kill + report["rows_stored"]
    t1 = t1_of(live_home)
    # What `produce` wrote (seed 7, 1 ms apart): each record after its source's T1 is stored once.
    wanted = sum(1 for r in sample_records(20000, seed=7, start=datetime.fromisoformat(start))
                 if r["source"] not in t1 or datetime.fromisoformat(r["ts"]) > t1[r["source"]])
    assert after["live"] == wanted
    with tables.connect(live_home.duckdb, read_only=True) as con:
        offsets = tables.live_positions(con, f"kafka:{topic}")
    assert sum(offsets.values()) == 20000
