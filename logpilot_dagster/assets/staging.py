"""staged_logs: landing files decoded, split into records, personal data masked, written as Parquet."""

from collections import Counter

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
)

from logpilot_dagster.assets.reporting import bar_chart
from logpilot_dagster.bootstrap import steps
from logpilot_dagster.jobs.partitions import landing_files_partitions, partition_keys
from logpilot_dagster.pii.audit import scan_parquet
from logpilot_dagster.resources.storage import LogPilotStorage

NO_PERSONAL_DATA_IN_STAGING = "no_personal_data_in_staging"
CONSERVATION_IN_STAGING = "staging_conservation"


@asset(
    partitions_def=landing_files_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    group_name="bootstrap",
    kinds={"parquet"},
    check_specs=[
        AssetCheckSpec(CONSERVATION_IN_STAGING, asset="staged_logs", blocking=True,
                       description="Every physical line read is in a staged record or in the quarantine."),
        AssetCheckSpec(NO_PERSONAL_DATA_IN_STAGING, asset="staged_logs", blocking=True,
                       description="No personal data in staged or quarantined Parquet."),
    ],
)
def staged_logs(context: AssetExecutionContext, storage: LogPilotStorage) -> MaterializeResult:
    """One Parquet file per landing file: records with UTC timestamps and masked messages.

    Bad lines (undecodable, NUL bytes, over 1 MiB, no header match, truncated gzip, dated in the future,
    symlinks...) go to the quarantine Parquet with a reason and their origin; nothing is dropped.
    """
    layout, keys = storage.layout(), partition_keys(context)
    stats = steps.stage(layout, storage.registry(), keys, storage.workers or None, storage.stage_limits())
    for s in stats:
        context.add_asset_metadata({"lines_read": s.lines_read - s.header_lines, "records": s.records,
                                    "lines_quarantined": s.quarantined_lines,
                                    "source": s.source or "(no source)"}, partition_key=s.partition_key)
    lines_read = sum(s.lines_read - s.header_lines for s in stats)
    in_records = sum(s.record_lines for s in stats)
    quarantined = sum(s.quarantined_lines for s in stats)
    by_reason: Counter[str] = Counter()
    by_source: Counter[str] = Counter()
    for s in stats:
        by_reason.update(s.quarantine_by_reason)
        by_source[s.source or "(no source)"] += s.records
    scan = scan_parquet([layout.staged_file(k) for k in keys] + [layout.quarantine_file(k) for k in keys],
                        columns=("message", "raw_b64"))
    context.log.info(f"staged {len(keys)} files: {sum(s.records for s in stats):,} records, "
                     f"{quarantined:,} lines quarantined")
    return MaterializeResult(
        metadata={
            "quarantine_by_reason": MetadataValue.md(bar_chart(dict(by_reason), "reason")),
            "records_by_source": MetadataValue.md(bar_chart(dict(by_source), "source")),
        },
        check_results=[
            AssetCheckResult(
                check_name=CONSERVATION_IN_STAGING, passed=lines_read == in_records + quarantined,
                metadata={"files": len(keys), "lines_read": lines_read, "lines_in_records": in_records,
                          "lines_quarantined": quarantined,
                          "lines_with_personal_data_masked": sum(s.pii_masked_lines for s in stats)}),
            AssetCheckResult(
                check_name=NO_PERSONAL_DATA_IN_STAGING, passed=scan.leak_count == 0,
                severity=AssetCheckSeverity.ERROR,
                # Where leaks are and their kind, never their text: the event log holds no row content.
                metadata={"values_scanned": scan.scanned, "leaks": scan.leak_count,
                          "first_leaks": MetadataValue.json([vars(x) for x in scan.first_leaks])}),
        ],
    )

