"""lifecycle_job and its daily lifecycle_schedule; purge_job and purge_sensor (right-to-be-forgotten requests
dropped as JSON files into $LOGPILOT_HOME/purge_requests/).

A request's subject never enters Dagster: the sensor passes file names only and the run reads the subject
from the file, so the event log holds no personal data and a purge never has to edit it.
"""

import json
import time

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    in_process_executor,
    schedule,
    sensor,
)

from logpilot_dagster.assets.lifecycle import LIFECYCLE_GROUP
from logpilot_dagster.resources.storage import LogPilotStorage

lifecycle_job = define_asset_job(
    "lifecycle_job", selection=AssetSelection.groups(LIFECYCLE_GROUP), executor_def=in_process_executor,
    description="Hot rows older than 30 days to warm Parquet, warm older than a year to the cold archive.")


@schedule(job=lifecycle_job, cron_schedule="30 2 * * *", execution_timezone="UTC",
          default_status=DefaultScheduleStatus.RUNNING, description="Tiering, daily at 02:30 UTC.")
def lifecycle_schedule(context):
    return RunRequest(tags={"logpilot/trigger": "schedule"})


# A purge waits `lifecycle.purge.PURGE_WAIT_S` for the miner's state; a request still pending this long after
# its run was requested is requested again.
PURGE_RETRY_S = 600.0

purge_job = define_asset_job(
    "purge_job", selection=AssetSelection.assets("purge_receipts"), executor_def=in_process_executor,
    description="Right-to-be-forgotten requests from $LOGPILOT_HOME/purge_requests/.")


@sensor(job=purge_job, minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING,
        description="Requests a purge run for new request files in $LOGPILOT_HOME/purge_requests/.")
def purge_sensor(context: SensorEvaluationContext, storage: LogPilotStorage) -> SensorResult | SkipReason:
    from logpilot_dagster.lifecycle.requests import pending_requests

    folder = storage.layout().purge_requests
    pending = pending_requests(storage.layout())
    cursor = json.loads(context.cursor) if context.cursor else {}
    asked = cursor.get("requested", {})
    if isinstance(asked, list):  # the cursor of an earlier release: names only
        asked = dict.fromkeys(asked, 0.0)
    now = time.time()
    # A request still pending long after it was asked for did not run (its purge found the miner's state
    # held): ask again.
    new = [name for name in pending if now - asked.get(name, -PURGE_RETRY_S) >= PURGE_RETRY_S]
    if not new:
        return SkipReason(f"no new purge requests in {folder} ({len(pending)} pending, already requested)")
    kept = {name: at for name, at in asked.items() if name in pending} | dict.fromkeys(new, now)
    return SensorResult(
        run_requests=[RunRequest(run_config={"ops": {"purge_receipts": {"config": {"files": new}}}},
                                 tags={"logpilot/trigger": "purge_request"})],
        cursor=json.dumps({"requested": kept}, sort_keys=True),
    )
