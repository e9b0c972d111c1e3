"""live_logs: one live batch (a stream range from `live_ingest_sensor`) appended to `logs`, exactly once."""

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from logpilot_dagster.assets.reporting import bar_chart
from logpilot_dagster.live.engine import LiveEngine
from logpilot_dagster.live.labelling import TemplateIndexer, TemplateLabeller
from logpilot_dagster.live.schema_discovery import discover_new_templates
from logpilot_dagster.live.stream import StreamRange
from logpilot_dagster.resources.llm import LLMResource
from logpilot_dagster.resources.storage import LogPilotStorage
from logpilot_dagster.resources.stream import LogStreamResource
from logpilot_dagster.store import tables

LIVE_GROUP = "live"
LIVE_CONSERVATION = "live_conservation"


class LiveBatchConfig(Config):
    range_json: str = Field(default="", description="the batch's stream range as JSON (set by live_ingest_sensor); "
                            "empty: the next batch from the committed positions")


@asset(deps=["bootstrap_watermark"], group_name=LIVE_GROUP, pool="duckdb", kinds={"duckdb"},
       check_specs=[AssetCheckSpec(LIVE_CONSERVATION, asset="live_logs", blocking=True,
                                   description="Records read = stored + at/before T1 + duplicates + quarantined, "
                                   "and lines read = lines stored + quarantined + purged over the warehouse.")])
def live_logs(context: AssetExecutionContext, config: LiveBatchConfig, storage: LogPilotStorage,
              stream: LogStreamResource, llm: LLMResource):
    """Stream records after the bootstrap watermark T1, masked, matched to the pre-warmed templates (new ones
    learned and labelled), with parameters and key-values, appended to `logs` with `ingest_mode = 'live'`.
    Rows, quarantine and the stream positions commit in one transaction, so a re-run stores nothing twice."""
    layout = storage.layout()
    discovered = {}

    def discovery(layout, new, samples, known, before_save=None):
        # The LLM only for templates whose own pattern is refused; the client's budget is this run's.
        result = discover_new_templates(layout, new, samples, known, discovered.setdefault("llm", llm.client()),
                                        before_save)
        discovered["accepted"] = discovered.get("accepted", 0) + len(result.accepted)
        discovered["rejected"] = discovered.get("rejected", 0) + len(result.rejected)

    with stream.open(layout) as log_stream, LiveEngine(
            layout, log_stream, limits=storage.stage_limits(), batch_records=stream.batch_records,
            batch_bytes=stream.batch_bytes, labeller=TemplateLabeller(llm=llm.config()),
            on_new_templates=discovery, indexer=TemplateIndexer(), log=context.log.info,
            llm_client=discovered.setdefault("llm", llm.client())) as engine:
        rng = StreamRange.from_config(config.range_json) if config.range_json else engine.plan()
        if rng.stream_key and rng.stream_key != log_stream.key:
            raise ValueError(f"the range is for stream {rng.stream_key!r}, the resource reads {log_stream.key!r}")
        counts, read = engine.run_range(rng)
    with tables.connect(layout.duckdb, read_only=True) as con:
        totals = tables.conservation(con)
        by_mode = tables.live_row_counts(con)
    context.log.info(f"{rng.describe()}: {counts.records_read:,} read, {counts.rows_stored:,} stored, "
                     f"{counts.skipped_before_t1:,} at/before T1, {counts.duplicates_skipped:,} duplicates, "
                     f"{counts.quarantined:,} quarantined, {counts.new_templates} new templates")
    yield MaterializeResult(metadata={
        "dagster/row_count": by_mode["live"], "records_read": counts.records_read,
        "rows_stored": counts.rows_stored, "skipped_before_t1": counts.skipped_before_t1,
        "duplicates_skipped": counts.duplicates_skipped, "quarantined": counts.quarantined,
        "new_templates": counts.new_templates, "caught_up": read.caught_up, "range": rng.describe(),
        "schemas_accepted": discovered.get("accepted", 0), "schemas_rejected": discovered.get("rejected", 0),
        "quarantine_by_reason": MetadataValue.md(bar_chart(dict(counts.quarantine_by_reason), "reason")),
    })
    yield AssetCheckResult(asset_key="live_logs", check_name=LIVE_CONSERVATION,
                           passed=counts.conserved and tables.conserved(totals),
                           metadata={**totals, "live_rows_stored_twice": by_mode["live_stored_twice"]})
