"""landing_sensor: registers new landing files as partitions and asks for bootstrap runs in batches."""

import json

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from logpilot_dagster.jobs.jobs import bootstrap_job
from logpilot_dagster.jobs.partitions import RANGE_END_TAG, RANGE_START_TAG, landing_files_partitions
from logpilot_dagster.resources.storage import LogPilotStorage
from logpilot_dagster.store.layout import safe_keys

FILES_PER_RUN = 200  # a Dagster run costs seconds to start: batch files per run


def batched_run_requests(new_keys: list[str], files_per_run: int = FILES_PER_RUN) -> list[RunRequest]:
    """One run per batch of new partitions. The keys are added in this order in the same tick, so each batch
    is a contiguous stretch of Dagster's partition order."""
    requests = []
    for i in range(0, len(new_keys), files_per_run):
        batch = new_keys[i:i + files_per_run]
        requests.append(RunRequest(tags={RANGE_START_TAG: batch[0], RANGE_END_TAG: batch[-1]}))
    return requests


@sensor(job=bootstrap_job, minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING,
        description="Registers new landing files as partitions and requests bootstrap runs for them.")
def landing_sensor(context: SensorEvaluationContext, storage: LogPilotStorage) -> SensorResult | SkipReason:
    landing = storage.layout().landing
    known = set(context.instance.get_dynamic_partitions(landing_files_partitions.name))
    keys, refused = safe_keys(storage.layout().landing_keys())
    new_keys = [key for key in keys if key not in known]
    cursor = json.loads(context.cursor) if context.cursor else {}
    if not new_keys:
        return SkipReason(f"no new files in {landing} ({len(known)} already registered"
                          + (f", {len(refused)} refused" if refused else "") + ")")
    cursor = {"registered": len(known) + len(new_keys), "last_key": new_keys[-1],
              "ticks_with_files": cursor.get("ticks_with_files", 0) + 1}
    return SensorResult(
        run_requests=batched_run_requests(new_keys),
        dynamic_partitions_requests=[landing_files_partitions.build_add_request(new_keys)],
        cursor=json.dumps(cursor),
    )
