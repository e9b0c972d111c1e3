"""Partitions: every landing file is one partition of the bootstrap."""

from dagster import AssetExecutionContext, DynamicPartitionsDefinition

from logpilot_dagster.store.layout import safe_keys

landing_files_partitions = DynamicPartitionsDefinition(name="landing_files")
# How a run names its stretch of partitions (Dagster's own tags for single-run backfills).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def partition_keys(context: AssetExecutionContext) -> list[str]:
    """The run's landing-file keys that stay inside the landing folder. A key typed into the UI as
    `../../x` is refused here, with its reason in the log, and the other files of the run go on."""
    keys, refused = safe_keys(context.partition_keys)
    for key, why in refused.items():
        context.log.error(f"refused partition {key!r}: {why}")
    return keys
