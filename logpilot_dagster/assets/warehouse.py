"""The DuckDB tables of the bootstrap: logs and quarantine (one transaction per run), system_catalog,
and the bootstrap watermark the live cutover starts from. Every writer is in pool `duckdb`."""

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)
from dagster_duckdb import DuckDBResource

from logpilot_dagster.assets.reporting import bar_chart, markdown_table, stacked_bars_png, table_metadata
from logpilot_dagster.bootstrap import steps
from logpilot_dagster.ingest.catalog import read_system_catalog
from logpilot_dagster.jobs.partitions import landing_files_partitions, partition_keys
from logpilot_dagster.pii.audit import scan_parquet
from logpilot_dagster.resources.storage import LogPilotStorage
from logpilot_dagster.store import tables

CONSERVATION = "conservation"
NO_PERSONAL_DATA = "no_personal_data_in_logs"


@multi_asset(
    specs=[
        AssetSpec("logs", deps=["parsed_logs"], kinds={"duckdb"}, group_name="bootstrap",
                  partitions_def=landing_files_partitions, metadata=table_metadata("logs"),
                  description="One row per log line: masked message, template, parameters, key-values."),
        AssetSpec("quarantine", deps=["staged_logs"], kinds={"duckdb"}, group_name="bootstrap",
                  partitions_def=landing_files_partitions, metadata=table_metadata("quarantine"),
                  description="Lines that could not be ingested, with reason, origin and masked raw bytes."),
    ],
    check_specs=[
        AssetCheckSpec(CONSERVATION, asset="logs", blocking=True,
                       description="Lines read = lines in `logs` + lines in `quarantine`, over the warehouse."),
        AssetCheckSpec(NO_PERSONAL_DATA, asset="logs", blocking=True,
                       description="No personal data in the parsed Parquet loaded into `logs`."),
    ],
    partitions_def=landing_files_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    pool="duckdb",
)
def logs_and_quarantine(context: AssetExecutionContext, storage: LogPilotStorage, duckdb: DuckDBResource):
    """Bulk-load parsed and quarantined Parquet; re-running a partition replaces its rows (idempotent).
    Each partition's materialization counts that file's rows; the warehouse totals are on the checks."""
    layout, keys = storage.layout(), partition_keys(context)
    with duckdb.get_connection() as con:
        loaded = steps.load(con, layout, keys, storage.load_memory_limit)
        per_partition = tables.partition_counts(con, keys)
        totals = tables.conservation(con)
        per_source = tables.rows_by_source(con)
        per_reason = tables.quarantine_by_reason(con)
        per_month = tables.rows_by_month_and_source(con)
    for key, (rows, bad) in per_partition.items():
        context.add_asset_metadata({"dagster/row_count": rows}, asset_key="logs", partition_key=key)
        context.add_asset_metadata({"dagster/row_count": bad}, asset_key="quarantine", partition_key=key)
    scan = scan_parquet([layout.parsed_file(k) for k in keys], columns=("message",))
    context.log.info(f"loaded {loaded.rows:,} rows and {loaded.quarantined:,} quarantine entries "
                     f"from {len(keys)} files")
    yield MaterializeResult(asset_key="logs")
    yield MaterializeResult(asset_key="quarantine")
    yield AssetCheckResult(asset_key="logs", check_name=CONSERVATION, passed=tables.conserved(totals), metadata={
        **totals, "rows_in_logs": sum(per_source.values()),
        "rows_by_source": MetadataValue.md(bar_chart(per_source, "source")),
        "quarantine_lines_by_reason": MetadataValue.md(bar_chart(per_reason, "reason")),
        "rows_by_month": MetadataValue.md(stacked_bars_png(per_month, "log lines per month and source")),
    })
    yield AssetCheckResult(asset_key="logs", check_name=NO_PERSONAL_DATA, passed=scan.leak_count == 0,
                           metadata={"values_scanned": scan.scanned, "leaks": scan.leak_count})


@asset(group_name="bootstrap", pool="duckdb", kinds={"duckdb"}, metadata=table_metadata("system_catalog"))
def system_catalog(storage: LogPilotStorage, duckdb: DuckDBResource) -> MaterializeResult:
    """Who owns each system: `system_name, department, owner_email, criticality`, from system_catalog.csv."""
    csv_path = storage.layout().system_catalog_csv
    if not csv_path.exists():
        return MaterializeResult(metadata={"dagster/row_count": 0, "note": f"no catalog at {csv_path}"})
    rows = read_system_catalog(csv_path)
    with duckdb.get_connection() as con:
        n = tables.replace_system_catalog(con, rows)
        shown = tables.system_catalog_rows(con)
    return MaterializeResult(metadata={
        "dagster/row_count": n,
        "catalog": MetadataValue.md(markdown_table(["system", "department", "criticality"], shown))})


@asset(deps=["logs"], group_name="bootstrap", pool="duckdb", kinds={"duckdb"},
       metadata=table_metadata("ingest_watermarks"))
def bootstrap_watermark(context: AssetExecutionContext, duckdb: DuckDBResource) -> MaterializeResult:
    """T1 per source: the newest timestamp the bootstrap loaded. Live ingestion takes over after it."""
    with duckdb.get_connection() as con:
        marks = tables.update_bootstrap_watermarks(con)
    return MaterializeResult(metadata={
        "dagster/row_count": len(marks),
        "watermarks": MetadataValue.md(markdown_table(["source", "bootstrap_t1"], sorted(marks.items()))),
        **{f"t1/{source}": t1 or "" for source, t1 in marks.items()},
    })
