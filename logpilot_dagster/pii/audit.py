"""Audits that personal data did not reach storage: scan Parquet files with the same detector that masks."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from logpilot_dagster.pii.masking import find_pii

MAX_FINDINGS = 20


@dataclass(frozen=True)
class Leak:
    file: str
    row: int
    column: str
    kind: str


@dataclass
class ScanResult:
    scanned: int = 0
    leak_count: int = 0
    first_leaks: list[Leak] = field(default_factory=list)


def scan_parquet(files: Iterable[Path], columns: Iterable[str] = ("message",)) -> ScanResult:
    """Scan values for personal data; `raw_b64` columns are decoded before scanning."""
    result = ScanResult()
    for file in files:
        if not file.exists():
            continue
        parquet = pq.ParquetFile(file)
        wanted = [c for c in columns if c in parquet.schema_arrow.names]
        row = 0
        for batch in parquet.iter_batches(columns=wanted, batch_size=65_536):
            for name in wanted:
                for offset, value in enumerate(batch.column(name).to_pylist()):
                    if not value:
                        continue
                    text = base64.b64decode(value).decode("latin-1") if name == "raw_b64" else value
                    result.scanned += 1
                    found = find_pii(text)
                    if found:
                        result.leak_count += 1
                        if len(result.first_leaks) < MAX_FINDINGS:
                            result.first_leaks.append(Leak(str(file), row + offset, name, found[0].kind))
            row += batch.num_rows
    return result
