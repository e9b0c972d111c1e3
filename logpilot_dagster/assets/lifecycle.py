"""warm_tier and cold_tier: old rows moved down the tiers (hot DuckDB → warm Parquet → cold archive)."""

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset

from logpilot_dagster.assets.reporting import markdown_table
from logpilot_dagster.resources.storage import LogPilotStorage

LIFECYCLE_GROUP = "lifecycle"


class TierConfig(Config):
    now: str = ""  # ISO 8601; empty: the run's wall clock
    warm_after_days: float | None = None  # None: $LOGPILOT_WARM_AFTER_DAYS or 30
    cold_after_days: float | None = None  # None: $LOGPILOT_COLD_AFTER_DAYS or 365
    cold_url: str = ""  # empty: $LOGPILOT_COLD_URL or $LOGPILOT_HOME/cold


def _settings(config: TierConfig):
    from logpilot_dagster.lifecycle.tiering import TierSettings

    base = TierSettings.from_env()
    return TierSettings(config.warm_after_days if config.warm_after_days is not None else base.warm_after_days,
                        config.cold_after_days if config.cold_after_days is not None else base.cold_after_days,
                        config.cold_url or base.cold_url)


def _tier_table(stats: dict) -> str:
    return markdown_table(["tier", "rows", "MB", "files", "oldest row"],
                          [(name, s["rows"], f"{s['bytes'] / 1e6:,.1f}", s["files"], s["oldest"] or "-")
                           for name, s in stats.items()])


@asset(deps=["logs"], group_name=LIFECYCLE_GROUP, pool="duckdb", kinds={"parquet"})
def warm_tier(context: AssetExecutionContext, config: TierConfig, storage: LogPilotStorage) -> MaterializeResult:
    """Rows older than the warm age (30 days) moved from `logs` to Parquet under warm/, per source and month;
    `logs_all` reads hot + warm. Journaled: a crash loses and duplicates nothing."""
    from logpilot_dagster.lifecycle.tiering import tier_once

    result, stats = tier_once(storage.layout(), "warm", config.now or None, _settings(config))
    for line in result.recovered:
        context.log.warning(line)
    return MaterializeResult(metadata={
        "rows_moved": result.rows, "files_written": result.files, "rows_per_second": round(result.rows_per_second),
        "warm_rows": stats["warm"]["rows"], "warm_bytes": stats["warm"]["bytes"],
        "hot_rows": stats["hot"]["rows"], "tiers": MetadataValue.md(_tier_table(stats))})


@asset(deps=["warm_tier"], group_name=LIFECYCLE_GROUP, pool="duckdb", kinds={"parquet"})
def cold_tier(context: AssetExecutionContext, config: TierConfig, storage: LogPilotStorage) -> MaterializeResult:
    """Warm files older than the cold age (365 days) compacted into one file per source and month at the
    archive location (a folder or an object store); `logs_archive` reads every tier."""
    from logpilot_dagster.lifecycle.tiering import tier_once

    result, stats = tier_once(storage.layout(), "cold", config.now or None, _settings(config))
    for line in result.recovered:
        context.log.warning(line)
    return MaterializeResult(metadata={
        "rows_moved": result.rows, "files_written": result.files, "cold_rows": stats["cold"]["rows"],
        "cold_bytes": stats["cold"]["bytes"], "tiers": MetadataValue.md(_tier_table(stats))})


class PurgeRequestsConfig(Config):
    files: list[str] = []  # request file names in purge_requests/; empty: every pending one


@asset(group_name="purge", pool="duckdb", kinds={"json"})
def purge_receipts(context: AssetExecutionContext, config: PurgeRequestsConfig,
                   storage: LogPilotStorage) -> MaterializeResult:
    """Receipts of executed right-to-be-forgotten requests (purge_requests/done/): each request file is
    replaced by its request id, the subject's salted hash and the counts. The subject never reaches Dagster:
    the run config names files, and the metadata holds counts."""
    from logpilot_dagster.lifecycle.requests import execute_pending

    receipts = execute_pending(storage.layout(), config.files)
    for receipt in receipts:
        if "pending" in receipt:
            context.log.warning(f"purge {receipt['request']} not run yet, left pending: {receipt['pending']}")
            continue
        context.log.info(f"purge {receipt.get('request_id', receipt['request'])}: "
                         f"{receipt.get('lines_purged', 0)} lines, verified={receipt.get('verified', False)}")
    ran = [r for r in receipts if "pending" not in r]
    return MaterializeResult(metadata={
        "requests": len(ran), "lines_purged": sum(r.get("lines_purged", 0) for r in ran),
        "verified": sum(1 for r in ran if r.get("verified")), "refused": sum(1 for r in ran if "error" in r),
        "pending": len(receipts) - len(ran)})
