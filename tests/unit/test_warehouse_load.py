"""The DuckDB load: staged → parsed → `logs`, idempotent per partition; origin and log_id as users see them."""

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from logpilot_dagster.extract.parsed import PARSED_SCHEMA, _current_layout, parse_partition
from logpilot_dagster.ingest.sources import SourcesRegistry
from logpilot_dagster.ingest.staging import STAGED_SCHEMA, _log_id, stage_file, staged_path
from logpilot_dagster.mining import LogMiner
from logpilot_dagster.warehouse.load import conservation, load_partitions
from logpilot_dagster.warehouse.schema import ensure_schema

NOVA = b"2026-03-04 12:00:0%d.000 2931 INFO nova.compute.manager [req-%d] VM Started\n"
KEY = "nova/nova-compute.log.2026-03-04"


@pytest.fixture
def home(tmp_path):
    for name in ("landing", "staging", "quarantine", "parsed"):
        (tmp_path / name).mkdir()
    path = tmp_path / "landing" / KEY
    path.parent.mkdir(parents=True)
    path.write_bytes(NOVA % (1, 1) + b"no header here\n" + NOVA % (2, 2))
    stage_file(tmp_path / "landing", KEY, SourcesRegistry.default(), tmp_path / "staging", tmp_path / "quarantine")
    miner = LogMiner()
    miner.learn("nova", [r["message"] for r in pq.read_table(staged_path(tmp_path / "staging", KEY)).to_pylist()])
    parse_partition(staged_path(tmp_path / "staging", KEY), miner, staged_path(tmp_path / "parsed", KEY))
    return tmp_path


def _load(con, home):
    return load_partitions(con, [KEY], home / "parsed", home / "quarantine", home / "staging")


def test_load_is_idempotent_and_shows_origin_and_integer_ids(home):
    con = duckdb.connect()
    first = _load(con, home)
    query = "SELECT log_id, origin, message, template_id FROM logs_labelled ORDER BY line_no"
    before = con.execute(query).fetchall()
    second = _load(con, home)
    assert (first.rows, first.quarantined) == (second.rows, second.quarantined) == (2, 1)
    assert con.execute(query).fetchall() == before
    assert [origin for _, origin, _, _ in before] == [f"{KEY}:1", f"{KEY}:3"]
    assert [log_id for log_id, *_ in before] == [_log_id("nova", KEY, 1), _log_id("nova", KEY, 3)]
    assert con.execute("SELECT origin FROM quarantine").fetchall() == [(f"{KEY}:2",)]
    totals = conservation(con)
    assert totals["lines_read"] == totals["lines_stored"] + totals["lines_quarantined"] == 3
    con.execute("DELETE FROM logs WHERE origin = ?", [f"{KEY}:1"])  # purge-style deletes still work
    assert con.execute("SELECT count(*) FROM logs").fetchone() == (1,)


def test_log_id_is_the_value_of_the_earlier_hex_id():
    hex_id = "ffeeddccbbaa9988"
    old = pa.table({"log_id": [hex_id], "origin": ["a:1"]})
    assert _current_layout(old).to_pylist() == [{"log_id": int(hex_id, 16)}]
    assert 0 <= _log_id("nova", KEY, 1) < 1 << 64
    assert STAGED_SCHEMA.field("log_id").type == PARSED_SCHEMA.field("log_id").type == pa.uint64()


def test_a_logs_table_of_the_earlier_layout_is_migrated(home):
    con = duckdb.connect()
    con.execute("""
        CREATE TABLE logs (log_id VARCHAR NOT NULL, ts TIMESTAMPTZ NOT NULL, source VARCHAR NOT NULL, level VARCHAR,
            component VARCHAR, message VARCHAR NOT NULL, template_id VARCHAR, params VARCHAR[],
            kv MAP(VARCHAR, VARCHAR), ingest_mode VARCHAR NOT NULL, origin VARCHAR NOT NULL,
            partition_key VARCHAR NOT NULL, line_no BIGINT, n_lines INTEGER NOT NULL);
        CREATE VIEW logs_all AS SELECT * FROM logs;
        INSERT INTO logs VALUES ('00000000000000ff', '2026-03-04 12:00:00+00', 'nova', 'INFO', NULL, 'old', 't1',
            ['x'], MAP {'k': 'v'}, 'bootstrap', 'nova/old.log:7', 'nova/old.log', 7, 1);
    """)
    ensure_schema(con)
    assert con.execute("SELECT log_id, origin, message, params, kv FROM logs_all").fetchall() == [
        (255, "nova/old.log:7", "old", ["x"], {"k": "v"})]
    _load(con, home)  # new rows load next to the migrated ones
    assert con.execute("SELECT count(*) FROM logs_labelled").fetchone() == (3,)


def test_the_load_caps_duckdb_memory_and_restores_it(monkeypatch, tmp_path):
    from logpilot_dagster.warehouse.load import LOAD_MEMORY_ENV

    con = duckdb.connect()
    default, = con.execute("SELECT current_setting('memory_limit')").fetchone()
    result = load_partitions(con, [], tmp_path, tmp_path, tmp_path)
    assert result.rows == 0
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == default
    monkeypatch.setenv(LOAD_MEMORY_ENV, "lots")
    with pytest.raises(ValueError, match="not a memory size"):
        load_partitions(con, [], tmp_path, tmp_path, tmp_path)
