"""parsed_logs: each staged line with its template id, parameters and key-value pairs, as Parquet."""

from dagster import AssetExecutionContext, BackfillPolicy, MaterializeResult, asset

from logpilot_dagster.bootstrap import steps
from logpilot_dagster.jobs.partitions import landing_files_partitions, partition_keys
from logpilot_dagster.resources.storage import LogPilotStorage


@asset(
    deps=["staged_logs", "log_templates"],
    partitions_def=landing_files_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    group_name="bootstrap",
    kinds={"parquet"},
)
def parsed_logs(context: AssetExecutionContext, storage: LogPilotStorage) -> MaterializeResult:
    """Staged records matched against the mined templates (read-only, so files parse in parallel)."""
    keys = partition_keys(context)
    rows = steps.parse(storage.layout(), keys, storage.workers or None)
    for key, n in zip(keys, rows, strict=True):
        context.add_asset_metadata({"dagster/row_count": n}, partition_key=key)
    return MaterializeResult()
