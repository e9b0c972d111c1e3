"""Jobs: the history bootstrap over landing-file partitions (inferred from the selected assets)."""

from dagster import AssetSelection, define_asset_job, in_process_executor

from logpilot_dagster.assets.vectors import VECTORS_GROUP

BOOTSTRAP_GROUP = "bootstrap"

# In-process: the staging and parsing steps already use a process pool of their own, and a
# subprocess per step would cost seconds of start-up each.
bootstrap_job = define_asset_job(
    "bootstrap_job",
    selection=AssetSelection.groups(BOOTSTRAP_GROUP),
    executor_def=in_process_executor,
    description="History bootstrap: landing files → staged → templates → parsed → DuckDB, for a range of files.",
)

# In-process: one embedding model load serves both collections.
vectors_job = define_asset_job(
    "vectors_job",
    selection=AssetSelection.groups(VECTORS_GROUP),
    executor_def=in_process_executor,
    description="Templates and runbooks → the Chroma vector index that search and `ask` read.",
)
