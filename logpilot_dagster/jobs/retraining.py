"""classification_job, the weekly retrain_schedule, and new_labels_sensor (retrain when labels pile up)."""

import json

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    in_process_executor,
    schedule,
    sensor,
)

from logpilot_dagster.assets.labels import CLASSIFICATION_GROUP
from logpilot_dagster.classify.training_data import labelled_rows
from logpilot_dagster.resources.storage import LogPilotStorage

MIN_NEW_LABELS = 200  # labelled rows added since the last retrain it requested

# In-process: one embedding model load serves every step of the run.
classification_job = define_asset_job(
    "classification_job",
    selection=AssetSelection.groups(CLASSIFICATION_GROUP),
    executor_def=in_process_executor,
    description="Training set → candidate classifier (promoted only if not worse) and KV model → template labels "
                "→ evaluation report.",
)


@schedule(job=classification_job, cron_schedule="0 3 * * 1", execution_timezone="UTC",
          default_status=DefaultScheduleStatus.STOPPED,
          description="Weekly retrain, Mondays 03:00 UTC. Stopped by default: turn it on once a bootstrap exists.")
def retrain_schedule(context):
    return RunRequest(run_key=None, tags={"logpilot/trigger": "schedule",
                                          "logpilot/scheduled_for": context.scheduled_execution_time.isoformat()})


@sensor(job=classification_job, minimum_interval_seconds=300,
        description=f"Requests a retrain when at least {MIN_NEW_LABELS} labelled rows have been added to the "
                    "labels folder since the last retrain it asked for.")
def new_labels_sensor(context: SensorEvaluationContext, storage: LogPilotStorage) -> SensorResult | SkipReason:
    labels_dir = storage.layout().labels
    counts = labelled_rows(labels_dir)
    total = sum(counts.values())
    cursor = json.loads(context.cursor) if context.cursor else {}
    seen = cursor.get("rows_at_last_request", 0)
    if total < seen:  # files were removed or rewritten: start counting from what is there now
        return SensorResult(skip_reason=f"labelled rows went down from {seen} to {total}; counting from here",
                            cursor=json.dumps({**cursor, "rows_at_last_request": total}))
    new = total - seen
    if new < MIN_NEW_LABELS:
        return SkipReason(f"{new} new labelled rows in {labels_dir} since the last retrain "
                          f"(need {MIN_NEW_LABELS}; {total} in {len(counts)} files)")
    return SensorResult(
        run_requests=[RunRequest(tags={"logpilot/trigger": "new_labels", "logpilot/new_labels": str(new)})],
        cursor=json.dumps({"rows_at_last_request": total, "files": len(counts),
                           "requests": cursor.get("requests", 0) + 1}),
    )
