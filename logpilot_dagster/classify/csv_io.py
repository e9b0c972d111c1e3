"""Classifying CSV files: input columns `source, log_message`, output adds `target_label, confidence, tier,
reason`. Shared by `logpilot classify` and the HTTP API, so both accept and refuse the same files."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from logpilot_dagster.classify.classifier import HybridClassifier

INPUT_COLUMNS = ("source", "log_message")
OUTPUT_COLUMNS = ("target_label", "confidence", "tier", "reason")
CHUNK_ROWS = 100_000


class CsvInputError(ValueError):
    """An input that is not a usable CSV of log lines; the message says what is wrong and how to fix it."""


def read_input_chunks(data: str | Path | bytes, chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """Chunks of a CSV (a path or the bytes of an upload), checked for emptiness, encoding and columns."""
    if isinstance(data, bytes):
        if not data.strip():
            raise CsvInputError("the file is empty; expected a CSV with columns source, log_message")
        if b"\x00" in data[:4096]:
            raise CsvInputError("the file looks binary, not a CSV of log lines")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise CsvInputError(f"the file is not UTF-8 text (undecodable byte at position {err.start}); "
                                "save it as UTF-8 CSV") from err
        handle: io.StringIO | Path = io.StringIO(text)
    else:
        handle = Path(data)
        if not handle.is_file():
            raise CsvInputError(f"{handle}: no such file")
        if handle.stat().st_size == 0:
            raise CsvInputError(f"{handle}: the file is empty")
    try:
        reader = pd.read_csv(handle, dtype=str, keep_default_na=False, chunksize=chunk_rows,
                             encoding="utf-8-sig", on_bad_lines="error")
        rows = 0
        for i, chunk in enumerate(reader):
            if i == 0:
                _check_columns(chunk)
            rows += len(chunk)
            if len(chunk):
                yield chunk
        if rows == 0:
            raise CsvInputError("the CSV has a header but no rows")
    except pd.errors.EmptyDataError as err:
        raise CsvInputError("the file is empty; expected a CSV with columns source, log_message") from err
    except pd.errors.ParserError as err:
        raise CsvInputError(f"not a valid CSV: {str(err).strip()}") from err
    except UnicodeDecodeError as err:
        raise CsvInputError(f"the file is not UTF-8 text (undecodable byte at position {err.start})") from err


def _check_columns(chunk: pd.DataFrame) -> None:
    chunk.columns = [str(c).strip() for c in chunk.columns]
    missing = [c for c in INPUT_COLUMNS if c not in chunk.columns]
    if missing:
        found = ", ".join(map(str, chunk.columns[:10])) or "none"
        raise CsvInputError(f"missing column(s) {', '.join(missing)}; expected columns source, log_message "
                            f"(found: {found})")


def classify_frame(classifier: HybridClassifier, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with the output columns added (replaced if present)."""
    frame = frame.copy()
    frame.columns = [str(c).strip() for c in frame.columns]
    items = list(zip(frame["source"].astype(str), frame["log_message"].astype(str), strict=True))
    results = classifier.classify(items)
    frame["target_label"] = [r.target_label for r in results]
    frame["confidence"] = [round(r.confidence, 4) for r in results]
    frame["tier"] = [r.tier for r in results]
    frame["reason"] = [r.reason for r in results]
    return frame


def classify_csv(classifier: HybridClassifier, input_path: str | Path, output_path: str | Path) -> int:
    """Stream `input_path` through the classifier into `output_path`; returns the number of rows."""
    output_path = Path(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = output_path.with_name(output_path.name + ".tmp")
    rows = 0
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        for i, chunk in enumerate(read_input_chunks(input_path)):
            classify_frame(classifier, chunk).to_csv(handle, index=False, header=i == 0)
            rows += len(chunk)
    tmp.replace(output_path)
    return rows
