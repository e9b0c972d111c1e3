"""Turn a staged partition into parsed rows: each line with its template id, parameters and key-values.

Matching is read-only against the mined templates, so partitions can be parsed in parallel processes.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from logpilot_dagster.extract.kv import extract_kv
from logpilot_dagster.ingest.staging import STAGED_SCHEMA
from logpilot_dagster.mining import LogMiner
from logpilot_dagster.store import purged

PARSED_SCHEMA = (
    STAGED_SCHEMA
    .append(pa.field("template_id", pa.string()))
    .append(pa.field("params", pa.list_(pa.string())))
    .append(pa.field("kv", pa.map_(pa.string(), pa.string())))
)


PARSE_BATCH_ROWS = 10_000  # matches, params and key-values are Python objects: keep a batch small


def parse_partition(staged_file: Path, miner: LogMiner, parsed_file: Path) -> int:
    """Write `parsed_file` from `staged_file`; returns the number of rows. Replaces any earlier output."""
    parsed_file.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    staged = pq.ParquetFile(staged_file)
    # What purges removed from the staged file is missing from the parsed one too (see `store.purged`).
    schema = purged.carried(PARSED_SCHEMA, staged.schema_arrow.metadata)
    with staged, pq.ParquetWriter(parsed_file, schema, compression="zstd") as writer:
        for batch in staged.iter_batches(batch_size=PARSE_BATCH_ROWS):
            table = pa.Table.from_batches([batch]).cast(STAGED_SCHEMA)
            writer.write_table(_parse_batch(table, miner))
            rows += table.num_rows
        if rows == 0:
            writer.write_table(PARSED_SCHEMA.empty_table())
    return rows


def _parse_batch(table: pa.Table, miner: LogMiner) -> pa.Table:
    n = table.num_rows
    template_ids: list[str | None] = [None] * n
    params: list[list[str] | None] = [None] * n
    messages = table.column("message").to_pylist()
    sources = table.column("source")
    for source in pc.unique(sources).to_pylist():
        positions = pc.indices_nonzero(pc.equal(sources, source)).to_pylist()
        matches = miner.match(source, [messages[i] for i in positions])
        for i, match in zip(positions, matches, strict=True):
            template_ids[i] = match.template_id
            params[i] = match.params
    kv = [_event_line_pairs(m) for m in messages]
    return (table
            .append_column("template_id", pa.array(template_ids, pa.string()))
            .append_column("params", pa.array(params, pa.list_(pa.string())))
            .append_column("kv", pa.array(kv, pa.map_(pa.string(), pa.string()))))


def _event_line_pairs(message: str) -> list[tuple[str, str]]:
    """A multi-line record's continuation is a stack trace, not key-value pairs: the event line's pairs."""
    if "=" not in message and ": " not in message:
        return []
    cut = message.find("\n")
    return list(extract_kv(message if cut < 0 else message[:cut]).items())
