"""live_ingest_sensor and live_ingest_job: the cutover from the bootstrap watermark to the stream.

The sensor looks and never consumes or commits: it reads T1 and the committed positions (read-only), asks the
stream for the next bounded range from them, and requests one run for it with the range in the run config.
One batch is in flight at a time: the next range starts where the last run committed, which only that run
knows (a Kafka range's end is a bound, not a record), so a new run is asked for once the previous finished.
"""

import json

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    in_process_executor,
    sensor,
)

from logpilot_dagster.assets.live import live_logs
from logpilot_dagster.resources.storage import LogPilotStorage
from logpilot_dagster.resources.stream import LogStreamResource
from logpilot_dagster.store import tables
from logpilot_dagster.store.locks import Busy, is_held

LIVE_BATCH_TAG = "logpilot/live_batch"
SENSOR_INTERVAL_S = 15
POSITIONS_WAIT_S = 10.0  # a tick waits this long for a warehouse another process holds, then skips
_FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}

live_ingest_job = define_asset_job("live_ingest_job", selection=[live_logs], executor_def=in_process_executor,
                                   description="One live batch: a stream range after T1 into `logs`, exactly once.")


def _in_flight(context: SensorEvaluationContext, batch: int | None) -> bool:
    if batch is None:
        return False
    runs = context.instance.get_runs(filters=RunsFilter(tags={LIVE_BATCH_TAG: str(batch)}), limit=1)
    # No run with the tag: it was never launched (or was deleted); asking again is safe, runs are idempotent.
    return bool(runs) and runs[0].status not in _FINISHED


@sensor(job=live_ingest_job, minimum_interval_seconds=SENSOR_INTERVAL_S, default_status=DefaultSensorStatus.RUNNING,
        description="After the bootstrap watermark exists, requests one live run per bounded stream batch.")
def live_ingest_sensor(context: SensorEvaluationContext, storage: LogPilotStorage,
                       stream: LogStreamResource) -> SensorResult | SkipReason:
    layout = storage.layout()
    cursor = json.loads(context.cursor) if context.cursor else {}
    if not layout.duckdb.exists():
        return SkipReason(f"waiting for bootstrap_watermark: no warehouse at {layout.duckdb} yet")
    try:
        with tables.connect(layout.duckdb, read_only=True, timeout_s=POSITIONS_WAIT_S) as con:
            has_table = tables.has_watermarks_table(con)
            t1 = tables.bootstrap_t1(con) if has_table else {}
            with stream.open(layout) as log_stream:
                positions = tables.live_positions(con, log_stream.key) if has_table else {}
    except Busy as busy:  # a bootstrap load or a tiering move: the next tick looks again
        return SkipReason(f"cannot read the committed positions yet: {busy}")
    if not t1:
        return SkipReason("waiting for bootstrap_watermark: the bootstrap has not written T1 yet")
    if is_held(layout.live_lock) and not _in_flight(context, cursor.get("batch")):
        return SkipReason(f"another live writer holds {layout.live_lock} (`logpilot live` running?): "
                          "it is ingesting the stream, no run needed")
    if _in_flight(context, cursor.get("batch")):
        return SkipReason(f"live batch {cursor['batch']} is still running; the next starts where it commits")
    with stream.open(layout) as log_stream:
        rng = log_stream.plan(positions, min(t1.values()), stream.batch_records, stream.batch_bytes)
        if rng.empty or not log_stream.has_data(rng):
            return SkipReason(f"no new records in {log_stream.key} after the committed positions "
                              f"({len(positions)} partitions committed)")
    batch = int(cursor.get("batch", 0)) + 1
    request = RunRequest(
        run_config={"ops": {"live_logs": {"config": {"range_json": json.dumps(rng.to_config())}}}},
        tags={LIVE_BATCH_TAG: str(batch)})
    return SensorResult(run_requests=[request], cursor=json.dumps({"batch": batch, "range": rng.to_config()}))
