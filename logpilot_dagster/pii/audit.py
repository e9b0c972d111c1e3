"""Audits of the detector that masks: that personal data did not reach storage (`scan_parquet`), and how
it does on labelled lines (`score_labelled`, used by the PII benchmark and its corpus test)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from logpilot_dagster.pii.masking import find_pii, mask

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


@dataclass
class LabelledScore:
    """How `find_pii` does on lines whose personal data and look-alikes are labelled by span."""

    lines: int = 0
    exact_lines: int = 0  # masked exactly as labelled
    pii_spans: int = 0
    pii_masked: int = 0  # every character covered by a match (of any kind)
    wrong_kind: int = 0  # masked, but by no match of the labelled kind
    look_alikes: int = 0
    look_alikes_masked: int = 0  # overlapped by any match
    missed: list[tuple[str, str]] = field(default_factory=list)  # (kind, value)
    over_masked: list[tuple[str, str]] = field(default_factory=list)  # (family, value)

    @property
    def recall(self) -> float:
        return self.pii_masked / self.pii_spans if self.pii_spans else 1.0


def read_labelled(path: Path) -> Iterator[dict]:
    """The records of a labelled JSONL corpus (see `score_labelled`), one per non-empty line."""
    with path.open(encoding="utf-8") as handle:
        for raw in handle:
            if raw.strip():
                yield json.loads(raw)


def score_labelled(records: Iterable[dict]) -> LabelledScore:
    """Score records `{"line", "expected", "pii": [[kind, start, end]...], "keep": [[family, start, end]...]}`.

    `expected` is the line with every `pii` span replaced by its kind's token, so an exact-line figure
    also catches masks that no label foresaw.
    """
    score = LabelledScore()
    for record in records:
        line = record["line"]
        found = find_pii(line)
        score.lines += 1
        score.exact_lines += mask(line) == record["expected"]
        for kind, start, end in record["pii"]:
            covering = [m for m in found if m.start < end and start < m.end]
            covered = sum(min(end, m.end) - max(start, m.start) for m in covering)
            score.pii_spans += 1
            if covered == end - start:
                score.pii_masked += 1
                score.wrong_kind += all(m.kind != kind for m in covering)
            else:
                score.missed.append((kind, line[start:end]))
        for family, start, end in record["keep"]:
            score.look_alikes += 1
            if any(m.start < end and start < m.end for m in found):
                score.look_alikes_masked += 1
                score.over_masked.append((family, line[start:end]))
    return score
