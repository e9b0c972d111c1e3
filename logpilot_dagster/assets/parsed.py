"""parsed_logs: each staged line with its template id, parameters and key-value pairs, as Parquet."""


from dagster import AssetExecutionContext, BackfillPolicy, MaterializeResult, asset

from logpilot_dagster.jobs.partitions import landing_files_partitions
from logpilot_dagster.pipeline import parse_partitions
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
    rows = parse_partitions(storage.layout(), context.partition_keys, storage.workers or None)
    return MaterializeResult(metadata={"files": len(rows), "rows": sum(rows)})
