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

from logpilot_dagster.assets.reporting import bar_chart, markdown_table, stacked_bars_png
from logpilot_dagster.ingest.staging import staged_path
from logpilot_dagster.jobs.partitions import landing_files_partitions
from logpilot_dagster.pii.audit import scan_parquet
from logpilot_dagster.pipeline import load_logs, update_bootstrap_watermarks
from logpilot_dagster.resources.storage import LogPilotStorage
from logpilot_dagster.warehouse.load import conservation, load_system_catalog
from logpilot_dagster.warehouse.queries import (
    quarantine_by_reason,
    quarantine_entries_by_reason,
    rows_by_month_and_source,
    rows_by_source,
)

CONSERVATION = "conservation"
NO_PERSONAL_DATA = "no_personal_data_in_logs"


@multi_asset(
    specs=[
        AssetSpec("logs", deps=["parsed_logs"], kinds={"duckdb"}, group_name="bootstrap",
                  partitions_def=landing_files_partitions,
                  description="One row per log line: masked message, template, parameters, key-values."),
        AssetSpec("quarantine", deps=["staged_logs"], kinds={"duckdb"}, group_name="bootstrap",
                  partitions_def=landing_files_partitions,
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
    """Bulk-load parsed and quarantined Parquet; re-running a partition replaces its rows (idempotent)."""
    layout, keys = storage.layout(), context.partition_keys
    with duckdb.get_connection() as con:
        loaded = load_logs(con, layout, keys)
        totals = conservation(con)
        per_source = rows_by_source(con)
        per_reason = quarantine_by_reason(con)
        entries_per_reason = quarantine_entries_by_reason(con)
        per_month = rows_by_month_and_source(con)
    scan = scan_parquet([staged_path(layout.parsed, k) for k in keys], columns=("message",))
    balanced = totals["lines_read"] == totals["lines_stored"] + totals["lines_quarantined"]
    yield MaterializeResult(asset_key="logs", metadata={
        "rows_loaded": loaded.rows,
        "rows_total": sum(per_source.values()),
        "rows_by_source": MetadataValue.md(bar_chart(per_source, "source")),
        "rows_by_month": MetadataValue.md(stacked_bars_png(per_month, "log lines per month and source")),
        "dagster/row_count": sum(per_source.values()),
    })
    yield MaterializeResult(asset_key="quarantine", metadata={
        "entries_loaded": loaded.quarantined,
        "lines_by_reason": MetadataValue.md(bar_chart(per_reason, "reason")),
        "entries_by_reason": MetadataValue.md(bar_chart(entries_per_reason, "reason")),
    })
    yield AssetCheckResult(asset_key="logs", check_name=CONSERVATION, passed=balanced, metadata=totals)
    yield AssetCheckResult(asset_key="logs", check_name=NO_PERSONAL_DATA, passed=scan.leak_count == 0,
                           metadata={"values_scanned": scan.scanned, "leaks": scan.leak_count})


@asset(group_name="bootstrap", pool="duckdb", kinds={"duckdb"})
def system_catalog(storage: LogPilotStorage, duckdb: DuckDBResource) -> MaterializeResult:
    """Who owns each system: `system_name, department, owner_email, criticality`, from system_catalog.csv."""
    csv_path = storage.layout().system_catalog_csv
    if not csv_path.exists():
        return MaterializeResult(metadata={"systems": 0, "note": f"no catalog at {csv_path}"})
    with duckdb.get_connection() as con:
        n = load_system_catalog(con, csv_path)
        rows = con.execute("SELECT system_name, department, criticality FROM system_catalog "
                           "ORDER BY system_name").fetchall()
    return MaterializeResult(metadata={
        "systems": n, "catalog": MetadataValue.md(markdown_table(["system", "department", "criticality"], rows))})


@asset(deps=["logs"], group_name="bootstrap", pool="duckdb", kinds={"duckdb"})
def bootstrap_watermark(context: AssetExecutionContext, duckdb: DuckDBResource) -> MaterializeResult:
    """T1 per source: the newest timestamp the bootstrap loaded. Live ingestion takes over after it."""
    with duckdb.get_connection() as con:
        marks = update_bootstrap_watermarks(con)
    return MaterializeResult(metadata={
        "sources": len(marks),
        "watermarks": MetadataValue.md(markdown_table(["source", "bootstrap_t1"], sorted(marks.items()))),
        **{f"t1/{source}": t1 or "" for source, t1 in marks.items()},
    })
