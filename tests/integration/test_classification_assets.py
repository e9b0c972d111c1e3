"""The classification assets materialized on top of a bootstrapped temporary home, and the retrain sensor."""

from __future__ import annotations

import json

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

from logpilot_dagster.assets.labels import CLASSIFICATION_GROUP
from logpilot_dagster.assets.models import CANDIDATE_NOT_WORSE
from logpilot_dagster.classify.model import ModelStore
from logpilot_dagster.definitions import build_definitions
from logpilot_dagster.jobs.partitions import RANGE_END_TAG, RANGE_START_TAG, landing_files_partitions
from logpilot_dagster.jobs.retraining import MIN_NEW_LABELS, new_labels_sensor
from logpilot_dagster.resources.storage import LogPilotStorage


def _bootstrap(layout, instance):
    defs = build_definitions(str(layout.home))
    keys = layout.landing_keys()
    instance.add_dynamic_partitions(landing_files_partitions.name, keys)
    result = materialize([*defs.assets, *defs.asset_checks], instance=instance, resources=defs.resources,
                         tags={RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]},
                         selection=AssetSelection.groups("bootstrap"))
    assert result.success


FAST_NER = {"kv_ner_model": {"config": {"iterations": 2, "max_templates": 40}}}


def _classify(layout, instance, run_config=None):
    defs = build_definitions(str(layout.home))
    run_config = {"ops": {**FAST_NER, **(run_config or {}).get("ops", {})}}
    return materialize([*defs.assets, *defs.asset_checks], instance=instance, resources=defs.resources,
                       selection=AssetSelection.groups(CLASSIFICATION_GROUP), run_config=run_config,
                       raise_on_error=False)


@pytest.fixture
def classified(home):
    instance = DagsterInstance.ephemeral()
    _bootstrap(home, instance)
    result = _classify(home, instance)
    assert result.success
    return home, instance, result


def test_every_template_gets_a_label_and_a_worse_candidate_is_refused(classified):
    layout, instance, result = classified
    with duckdb.connect(str(layout.duckdb), read_only=True) as con:
        missing, = con.execute("SELECT count(*) FROM templates WHERE label IS NULL OR label_tier IS NULL").fetchone()
        tiers = dict(con.execute("SELECT label_tier, count(*) FROM templates GROUP BY ALL").fetchall())
        labelled = dict(con.execute("SELECT label, count(*) FROM logs_labelled GROUP BY ALL").fetchall())
        rows, = con.execute("SELECT count(*) FROM logs").fetchone()
    assert missing == 0
    assert tiers.get("model", 0) > 0 and set(tiers) <= {"rules", "model", "llm", "human", "unclassified"}
    assert sum(labelled.values()) == rows and len(labelled) >= 5
    assert labelled.get("unclassified", 0) < rows * 0.05  # threshold tuned low: the model settles most lines
    store = ModelStore(layout.classifier_store)
    first = store.promoted_dir()
    assert first is not None
    label_meta = result.asset_materializations_for_node("template_labels")[0].metadata
    assert label_meta["llm_calls"].value == 0 and "disabled" in label_meta["llm_tier"].value
    # The UI tells one story: the same version (a folder name, not a timestamp) on all three assets.
    trained = result.asset_materializations_for_node("log_classifier")[0].metadata
    evaluated = result.asset_materializations_for_node("evaluation_report")[0].metadata
    assert trained["promoted"].value is True
    assert trained["model_version"].value == evaluated["model_version"].value == label_meta["model_version"].value \
        == first.name
    assert "no model promoted" not in evaluated["promoted_because"].value

    worse = _classify(layout, instance, run_config={"ops": {"log_classifier": {"config": {"max_keys_per_label": 1}}}})
    checks = {e.check_name: e.passed for e in worse.get_asset_check_evaluations()}
    assert checks[CANDIDATE_NOT_WORSE] is False
    assert not worse.success  # the blocking check stops template_labels and evaluation_report
    assert store.promoted_dir() == first and len(store.versions()) == 2


def test_new_labels_sensor_counts_rows_with_a_cursor(home):
    storage = LogPilotStorage(home=str(home.home))
    with build_sensor_context(resources={"storage": storage}) as context:
        idle = new_labels_sensor(context)
    assert isinstance(idle, SkipReason) and "0 new labelled rows" in idle.skip_message

    rows = "\n".join(f"app,User u{i} logged in,User Action" for i in range(MIN_NEW_LABELS + 5))
    (home.labels / "mine.csv").write_text("source,log_message,target_label\n" + rows + "\n")
    with build_sensor_context(resources={"storage": storage}) as context:
        fired = new_labels_sensor(context)
    assert isinstance(fired, SensorResult) and len(fired.run_requests) == 1
    assert json.loads(fired.cursor)["rows_at_last_request"] == MIN_NEW_LABELS + 5

    with build_sensor_context(resources={"storage": storage}, cursor=fired.cursor) as context:
        again = new_labels_sensor(context)
    assert isinstance(again, SkipReason) and "0 new labelled rows" in again.skip_message
