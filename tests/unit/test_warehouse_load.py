"""The DuckDB load: staged → parsed → `logs`, idempotent per partition; origin and log_id as users see them."""

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from logpilot_dagster.bootstrap import steps
from logpilot_dagster.extract.parsed import PARSED_SCHEMA, parse_partition
from logpilot_dagster.ingest.sources import SourcesRegistry
from logpilot_dagster.ingest.staging import STAGED_SCHEMA, _log_id, stage_file
from logpilot_dagster.mining import LogMiner
from logpilot_dagster.store.layout import HomeLayout
from logpilot_dagster.store.tables import conservation, ensure_schema, transaction

NOVA = b"2026-03-04 12:00:0%d.000 2931 INFO nova.compute.manager [req-%d] VM Started\n"
KEY = "nova/nova-compute.log.2026-03-04"


@pytest.fixture
def home(tmp_path):
    layout = HomeLayout(tmp_path).ensure()
    path = layout.landing / KEY
    path.parent.mkdir(parents=True)
    path.write_bytes(NOVA % (1, 1) + b"no header here\n" + NOVA % (2, 2))
    stage_file(layout, KEY, SourcesRegistry.default())
    miner = LogMiner()
    miner.learn("nova", [r["message"] for r in pq.read_table(layout.staged_file(KEY)).to_pylist()])
    parse_partition(layout.staged_file(KEY), miner, layout.parsed_file(KEY))
    return layout


def _load(con, home, **options):
    return steps.load(con, home, [KEY], **options)


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


def test_log_id_is_a_64_bit_integer_in_every_layout():
    assert 0 <= _log_id("nova", KEY, 1) < 1 << 64
    assert STAGED_SCHEMA.field("log_id").type == PARSED_SCHEMA.field("log_id").type == pa.uint64()


def test_a_failed_transaction_leaves_the_table_as_it_was():
    con = duckdb.connect()
    ensure_schema(con)
    with pytest.raises(RuntimeError), transaction(con):
        con.execute("INSERT INTO system_catalog VALUES ('a', 'b', 'c', 'd')")
        raise RuntimeError("crash in the middle")
    assert con.execute("SELECT count(*) FROM system_catalog").fetchone() == (0,)


def test_the_load_caps_duckdb_memory_and_restores_it(home):
    con = duckdb.connect()
    default, = con.execute("SELECT current_setting('memory_limit')").fetchone()
    result = steps.load(con, home, [])
    assert result.rows == 0
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == default
    with pytest.raises(ValueError, match="not a memory size"):
        _load(con, home, memory_limit="lots")
