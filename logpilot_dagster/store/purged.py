"""What purges removed, kept beside every copy a load reads, so conservation (lines read = stored + quarantined +
purged) balances per landing file whenever a purge runs: between a bootstrap's staging and its load, before a
re-ingestion, or killed half-way.

In DuckDB, `purged_lines` has a row per request, landing file and store, written in the transaction that removes
the rows (`tables.record_purged`). A Parquet copy that a load reads (staged, parsed, quarantined lines) carries
what purges removed from it in its own metadata (`with_removed`): parsing carries a staged file's counts into the
parsed file (`carried`), and a load replaces a landing file's ledger rows with its files' counts as it
replaces their rows. Either side then counts what the other is missing, never both.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

KEY = b"logpilot.purged"  # {request id: [rows, lines]} removed from this file


def removed(metadata: dict[bytes, bytes] | None) -> dict[str, list[int]]:
    """The counts a file's metadata carries ({} for a file no purge edited, or an unreadable entry)."""
    try:
        counts = json.loads((metadata or {}).get(KEY, b"{}"))
        return {str(request): [int(rows), int(lines)] for request, (rows, lines) in counts.items()}
    except (ValueError, TypeError, AttributeError):
        return {}


def with_removed(table: pa.Table, request_id: str, rows: int, lines: int) -> pa.Table:
    """`table` (a file's rows less the purged ones) with the purge's counts added to those its file had."""
    metadata = dict(table.schema.metadata or {})
    counts = removed(metadata)
    before = counts.get(request_id, [0, 0])
    counts[request_id] = [before[0] + rows, before[1] + lines]
    metadata[KEY] = json.dumps(counts, sort_keys=True).encode()
    return table.replace_schema_metadata(metadata)


def carried(schema: pa.Schema, source_metadata: dict[bytes, bytes] | None) -> pa.Schema:
    """`schema` with the purge counts of the file it is derived from (a parsed file from its staged one)."""
    metadata = source_metadata or {}
    return schema.with_metadata({**(schema.metadata or {}), KEY: metadata[KEY]}) if KEY in metadata else schema


def ledger_rows(partition_keys: list[str], files: list[Path], sink: str) -> list[tuple[str, str, str, int, int]]:
    """(request_id, partition_key, sink, rows, lines) for what purges removed from each landing file's copy."""
    out = []
    for key, path in zip(partition_keys, files, strict=True):
        try:
            metadata = pq.read_schema(path).metadata
        except (OSError, pa.ArrowInvalid):  # no file: the load has nothing of it either
            continue
        out.extend((request, key, sink, rows, lines) for request, (rows, lines) in removed(metadata).items())
    return out
