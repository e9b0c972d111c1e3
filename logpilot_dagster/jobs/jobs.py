"""Jobs: the history bootstrap over landing-file partitions."""

from dagster import AssetSelection, define_asset_job, in_process_executor

from logpilot_dagster.jobs.partitions import landing_files_partitions

BOOTSTRAP_GROUP = "bootstrap"

# In-process: the staging and parsing steps already use a process pool of their own, and a
# subprocess per step would cost seconds of start-up each.
bootstrap_job = define_asset_job(
    "bootstrap_job",
    selection=AssetSelection.groups(BOOTSTRAP_GROUP),
    partitions_def=landing_files_partitions,
    executor_def=in_process_executor,
    description="History bootstrap: landing files → staged → templates → parsed → DuckDB, for a range of files.",
)
