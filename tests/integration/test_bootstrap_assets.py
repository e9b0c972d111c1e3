"""The bootstrap asset graph materialized into a temporary home, and the landing sensor's ticks."""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
import sys

import duckdb
import pytest
from dagster import (
    AssetSelection,
    DagsterInstance,
    SensorResult,
    SkipReason,
    build_sensor_context,
    materialize,
)

from logpilot_dagster.definitions import build_definitions
from logpilot_dagster.jobs.jobs import BOOTSTRAP_GROUP
from logpilot_dagster.jobs.partitions import RANGE_END_TAG, RANGE_START_TAG, landing_files_partitions
from logpilot_dagster.jobs.sensors import landing_sensor
from logpilot_dagster.pii import contains_pii
from logpilot_dagster.resources.storage import LogPilotStorage
from logpilot_dagster.store.tables import conservation

BAD_CLASSES = {"undecodable", "nul_bytes", "line_too_long", "empty_file", "truncated_gzip", "no_header_match",
               "bad_json", "no_source"}


def _bootstrap(layout, instance, keys=None, partition_key=None):
    defs = build_definitions(str(layout.home))
    keys = keys or layout.landing_keys()
    known = set(instance.get_dynamic_partitions(landing_files_partitions.name))
    instance.add_dynamic_partitions(landing_files_partitions.name, [k for k in keys if k not in known])
    tags = {} if partition_key else {RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]}
    result = materialize([*defs.assets, *defs.asset_checks], instance=instance, partition_key=partition_key,
                         tags=tags, resources=defs.resources, selection=AssetSelection.groups(BOOTSTRAP_GROUP))
    assert result.success
    return result


@pytest.fixture
def bootstrapped(home):
    instance = DagsterInstance.ephemeral()
    result = _bootstrap(home, instance)
    return home, instance, result


def _truth(layout):
    with gzip.open(layout.sample_truth / "ground_truth.csv.gz", "rt", newline="") as handle:
        return list(csv.DictReader(handle))


def test_materialize_loads_every_line_once_and_quarantines_each_bad_class(bootstrapped):
    layout, _, result = bootstrapped
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks and all(checks.values()), checks
    with duckdb.connect(str(layout.duckdb), read_only=True) as con:
        totals = conservation(con)
        rows, distinct_ids = con.execute("SELECT count(*), count(DISTINCT log_id) FROM logs").fetchone()
        reasons = {r for r, in con.execute("SELECT DISTINCT reason FROM quarantine").fetchall()}
        sources = {s for s, in con.execute("SELECT DISTINCT source FROM logs").fetchall()}
        unmatched, = con.execute("SELECT count(*) FROM logs WHERE template_id IS NULL").fetchone()
        templates, = con.execute("SELECT count(*) FROM templates WHERE count > 0").fetchone()
        marks = dict(con.execute("SELECT source, bootstrap_t1 FROM ingest_watermarks").fetchall())
        newest = dict(con.execute("SELECT source, max(ts) FROM logs GROUP BY source").fetchall())
        systems, = con.execute("SELECT count(*) FROM system_catalog").fetchone()
        messages = [m for m, in con.execute("SELECT message FROM logs").fetchall()]
    assert totals["lines_read"] == totals["lines_stored"] + totals["lines_quarantined"] > 0
    good_truth = [t for t in _truth(layout) if not t["bad_reason"]]
    assert rows == distinct_ids == len(good_truth)
    assert reasons >= BAD_CLASSES
    assert {"nova", "syslog", "apache", "app_json", "legacy_crm", "billing"} <= sources
    assert unmatched == 0 and templates > 20
    assert marks == newest
    assert systems > 0
    assert not any(contains_pii(m) for m in messages)


def test_each_partition_materialization_counts_its_own_rows(bootstrapped):
    """The UI's per-partition row counts add up to the table (not the table's total on every partition)."""
    from dagster import AssetKey

    layout, instance, _ = bootstrapped
    for asset in ("logs", "quarantine"):
        events = instance.fetch_materializations(AssetKey(asset), limit=10_000).records
        counts = {e.partition_key: e.asset_materialization.metadata["dagster/row_count"].value for e in events}
        assert len(counts) == len(layout.landing_keys())
        with duckdb.connect(str(layout.duckdb), read_only=True) as con:
            total, = con.execute(f"SELECT count(*) FROM {asset}").fetchone()
        assert sum(counts.values()) == total > 0
        assert len(set(counts.values())) > 1
    spec = build_definitions(str(layout.home)).get_assets_def("logs").specs_by_key[AssetKey("logs")]
    assert spec.metadata["dagster/table_name"] == "logpilot.main.logs"
    assert "log_id" in [c.name for c in spec.metadata["dagster/column_schema"].columns]


def test_rerunning_a_partition_changes_nothing(bootstrapped):
    layout, instance, _ = bootstrapped
    query = ("SELECT count(*), sum(hash(log_id, message, template_id)) FROM logs "
             "UNION ALL SELECT count(*), sum(hash(origin, reason)) FROM quarantine")
    with duckdb.connect(str(layout.duckdb), read_only=True) as con:
        before = con.execute(query).fetchall()
    key = next(k for k in layout.landing_keys() if k.startswith("billing/"))
    _bootstrap(layout, instance, partition_key=key)
    with duckdb.connect(str(layout.duckdb), read_only=True) as con:
        assert con.execute(query).fetchall() == before
        totals = conservation(con)
    assert totals["lines_read"] == totals["lines_stored"] + totals["lines_quarantined"]


def test_landing_sensor_registers_new_files_in_batches_and_keeps_a_cursor(home):
    instance = DagsterInstance.ephemeral()
    storage = LogPilotStorage(home=str(home.home))
    keys = home.landing_keys()

    with build_sensor_context(instance=instance, resources={"storage": storage}) as context:
        first = landing_sensor(context)
    assert isinstance(first, SensorResult)
    assert first.dynamic_partitions_requests[0].partition_keys == keys
    ranges = [(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in first.run_requests]
    assert ranges[0][0] == keys[0] and ranges[-1][1] == keys[-1]
    cursor = json.loads(first.cursor)
    assert cursor["registered"] == len(keys)

    instance.add_dynamic_partitions(landing_files_partitions.name, keys)
    with build_sensor_context(instance=instance, cursor=first.cursor, resources={"storage": storage}) as context:
        idle = landing_sensor(context)
    assert isinstance(idle, SkipReason) and "no new files" in idle.skip_message

    new_file = home.landing / "syslog" / "syslog-20261102.log"
    new_file.write_text("<14>Nov  2 10:00:00 web1 cron[1]: job done\n")
    with build_sensor_context(instance=instance, cursor=first.cursor, resources={"storage": storage}) as context:
        second = landing_sensor(context)
    assert second.dynamic_partitions_requests[0].partition_keys == ["syslog/syslog-20261102.log"]
    assert [r.tags[RANGE_START_TAG] for r in second.run_requests] == ["syslog/syslog-20261102.log"]
    assert json.loads(second.cursor)["ticks_with_files"] == cursor["ticks_with_files"] + 1


def test_definitions_load_with_every_asset_check_and_job():
    defs = build_definitions()
    repo = defs.get_repository_def()
    assert {"bootstrap_job"} <= {j.name for j in repo.get_all_jobs()}
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert {"staged_logs", "log_templates", "parsed_logs", "logs", "quarantine", "templates", "system_catalog",
            "bootstrap_watermark"} <= keys


def test_definitions_load_without_dagster_warnings():
    """`dagster dev` must load the code location cleanly: no beta/preview/deprecation notices from Dagster."""
    probe = (
        "import warnings\n"
        "warnings.simplefilter('always')\n"
        "with warnings.catch_warnings(record=True) as seen:\n"
        "    import logpilot_dagster.definitions as d\n"
        "    d.defs.get_repository_def().get_all_jobs()\n"
        "print('\\n'.join(f'{w.category.__name__}: {w.message}' for w in seen if 'dagster' in w.filename))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "", done.stdout


def test_summary_command_reports_the_warehouse(bootstrapped, capsys):
    from logpilot_dagster.cli import main

    layout, _, _ = bootstrapped
    assert main(["summary", "--home", str(layout.home)]) == 0
    out = capsys.readouterr().out
    assert "conservation        holds" in out and "truncated_gzip" in out and str(layout.duckdb) in out
    assert main(["summary", "--home", str(layout.home / "nowhere")]) == 2
    assert main(["summary", "--home", str(layout.home), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["conservation"]["holds"] and summary["quarantine_entries_by_reason"]["truncated_gzip"] >= 1
