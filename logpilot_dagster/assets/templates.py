"""log_templates (the Drain3 miner's state) and templates (the catalog table in DuckDB)."""

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)
from dagster_duckdb import DuckDBResource

from logpilot_dagster.assets.reporting import markdown_table, rounded, table_metadata
from logpilot_dagster.bootstrap import steps
from logpilot_dagster.resources.storage import LogPilotStorage
from logpilot_dagster.store import tables

TOP_TEMPLATES = 15
MIN_TEMPLATE_COVERAGE = 0.99


@asset(deps=["staged_logs"], group_name="bootstrap", pool="miner", kinds={"drain3"})
def log_templates(context: AssetExecutionContext, storage: LogPilotStorage) -> MaterializeResult:
    """The template miner's state under registry/drain3: one Drain3 miner per source, versioned.

    Learns incrementally from staged partitions it has not seen; a ledger keeps re-runs from counting
    lines twice. One owner at a time (pool `miner`): Drain3 state is not safe across processes.
    """
    result = steps.mine(storage.layout())
    context.log.info(f"mined {result.messages:,} messages from {len(result.mined_partitions)} new partitions")
    return MaterializeResult(metadata={
        "new_partitions": len(result.mined_partitions),
        "messages_learned": result.messages,
        "templates": result.templates_after,
        "new_templates": result.templates_after - result.templates_before,
    })


@asset(deps=["log_templates", "logs"], group_name="bootstrap", pool="duckdb", kinds={"duckdb"},
       metadata=table_metadata("templates"))
def templates(context: AssetExecutionContext, storage: LogPilotStorage,
              duckdb: DuckDBResource) -> MaterializeResult:
    """The template catalog table: id, source, template text, regex, count, first/last seen, example.

    Counts and first/last seen come from `logs`; labels set by classification are kept on refresh.
    """
    with duckdb.get_connection() as con:
        n = steps.refresh_templates(con, storage.layout())
        top = tables.top_templates(con, TOP_TEMPLATES)
        sources = tables.template_sources(con)
    return MaterializeResult(metadata={
        "dagster/row_count": n,
        "sources": sources,
        "top_templates": MetadataValue.md(markdown_table(["template_id", "count", "template"], top)),
    })


@asset_check(asset=templates, description=f"At least {MIN_TEMPLATE_COVERAGE:.0%} of lines match their "
             "template's regex (templates describe the lines assigned to them).")
def template_coverage_check(duckdb: DuckDBResource) -> AssetCheckResult:
    with duckdb.get_connection() as con:
        covered, total = tables.template_coverage(con)
    share = covered / total if total else 1.0
    return AssetCheckResult(passed=share >= MIN_TEMPLATE_COVERAGE,
                            metadata={"lines": total, "matching_their_template": covered,
                                      "coverage": rounded(share)})
