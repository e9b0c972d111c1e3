"""Classifying CSV files: input columns `source, log_message`, output adds `target_label, confidence, tier,
reason`. Shared by `logpilot classify` and the HTTP API, so both accept, refuse and write files alike.

What both surfaces promise:
- a row with more or fewer fields than the header is refused with its row number, never padded or cut;
- an input that already has one of the output columns is refused: classification never overwrites a
  user's column (rename it, e.g. `target_label` to `expected_label`, to keep it beside the new one);
- a blank `log_message` is not guessed at: it gets `unclassified`, tier `unclassified`, confidence 0 and
  reason `empty message` (the JSON API answers the same);
- cells a spreadsheet would run as a formula are escaped in the output (see `csv_cells`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from logpilot_dagster.classify.classifier import HybridClassifier
from logpilot_dagster.classify.labels import TIER_UNCLASSIFIED, UNCLASSIFIED
from logpilot_dagster.classify.router import Classification

INPUT_COLUMNS = ("source", "log_message")
OUTPUT_COLUMNS = ("target_label", "confidence", "tier", "reason")
CHUNK_ROWS = 100_000
EMPTY_MESSAGE = Classification(UNCLASSIFIED, 0.0, TIER_UNCLASSIFIED, "empty message")

# An input: a path, the bytes of an upload, or an open text stream (stdin).
CsvSource = str | Path | bytes | TextIO
# Called after each chunk with the rows done so far and the input bytes read so far (None: unknown).
Progress = Callable[[int, int | None], None]


class CsvInputError(ValueError):
    """An input that is not a usable CSV of log lines; the message says what is wrong and how to fix it."""


class CsvColumnsError(CsvInputError):
    """A readable CSV whose header does not fit: a column missing, a name twice, or an output column present."""


@dataclass(frozen=True)
class CsvSummary:
    rows: int
    empty_messages: int


def read_input_chunks(data: CsvSource, chunk_rows: int = CHUNK_ROWS,
                      progress: Progress | None = None) -> Iterator[pd.DataFrame]:
    """Chunks of a CSV, all cells strings, checked for emptiness, encoding, columns and row widths."""
    with _open_text(data) as handle:
        yield from _chunks(handle, chunk_rows, progress)


@contextlib.contextmanager
def _open_text(data: CsvSource) -> Iterator[TextIO]:
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
        yield io.StringIO(text, newline="")
    elif isinstance(data, str | Path):
        path = Path(data)
        if not path.is_file():
            raise CsvInputError(f"{path}: no such file")
        if path.stat().st_size == 0:
            raise CsvInputError(f"{path}: the file is empty")
        with path.open(encoding="utf-8-sig", newline="") as handle:
            yield handle
    else:
        yield data


def _chunks(handle: TextIO, chunk_rows: int, progress: Progress | None) -> Iterator[pd.DataFrame]:
    reader = csv.reader(handle, strict=True)  # strict: a stray or unclosed quote is an error, not data
    rows: list[list[str]] = []
    count = 0
    try:
        header = next((row for row in reader if row), None)  # blank lines carry nothing
        if header is None or not any(cell.strip() for cell in header):
            raise CsvInputError("the file is empty; expected a CSV with columns source, log_message")
        header = _check_columns(header)
        width = len(header)
        for row in reader:
            if not row:
                continue
            count += 1
            if len(row) != width:
                raise CsvInputError(
                    f"row {count:,} (line {reader.line_num:,}) has {len(row)} field(s) but the header has "
                    f"{width}; quote fields that contain commas, and give every row all {width} columns")
            rows.append(row)
            if len(rows) >= chunk_rows:
                yield _frame(rows, header, count, handle, progress)
                rows = []
    except csv.Error as err:
        raise CsvInputError(f"not a valid CSV at line {reader.line_num:,}: {err}") from err
    except UnicodeDecodeError as err:
        raise CsvInputError(f"the file is not UTF-8 text (undecodable byte after line {reader.line_num:,}); "
                            "save it as UTF-8 CSV") from err
    if rows:
        yield _frame(rows, header, count, handle, progress)
    if count == 0:
        raise CsvInputError("the CSV has a header but no rows")


def _frame(rows: list[list[str]], header: list[str], count: int, handle: TextIO,
           progress: Progress | None) -> pd.DataFrame:
    if progress is not None:
        progress(count, _bytes_read(handle))
    return pd.DataFrame(rows, columns=header, dtype=str)


def _bytes_read(handle: TextIO) -> int | None:
    try:
        return handle.buffer.tell()  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):  # a StringIO, or a pipe
        return None


def _check_columns(header: list[str]) -> list[str]:
    header = [cell.strip() for cell in header]
    if any("\x00" in cell for cell in header):
        raise CsvInputError("the file looks binary, not a CSV of log lines")
    missing = [c for c in INPUT_COLUMNS if c not in header]
    if missing:
        found = ", ".join(header[:10]) or "none"
        raise CsvColumnsError(f"missing column(s) {', '.join(missing)}; expected columns source, log_message "
                              f"(found: {found})")
    twice = [name for name, n in Counter(header).items() if n > 1]
    if twice:
        raise CsvColumnsError(f"column name(s) {', '.join(map(repr, twice[:10]))} appear more than once; "
                              "give every column its own name")
    present = [c for c in OUTPUT_COLUMNS if c in header]
    if present:
        raise CsvColumnsError(f"the input already has column(s) {', '.join(present)}, which classification "
                              f"writes; rename or drop them (e.g. {present[0]} -> expected_{present[0]}) so "
                              "nothing of yours is overwritten")
    return header


def classify_frame(classifier: HybridClassifier, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with the output columns added; blank messages get `EMPTY_MESSAGE` without asking a tier."""
    frame = frame.copy()
    frame.columns = [str(c).strip() for c in frame.columns]
    present = [c for c in OUTPUT_COLUMNS if c in frame.columns]
    if present:  # callers that skip read_input_chunks get the same refusal
        raise CsvColumnsError(f"the input already has column(s) {', '.join(present)}, which classification "
                              "writes; rename or drop them")
    items = list(zip(frame["source"].astype(str), frame["log_message"].astype(str), strict=True))
    blank = [not message.strip() for _, message in items]
    todo = [item for item, is_blank in zip(items, blank, strict=True) if not is_blank]
    decided = iter(classifier.classify(todo) if todo else [])
    results = [EMPTY_MESSAGE if is_blank else next(decided) for is_blank in blank]
    frame["target_label"] = [r.target_label for r in results]
    frame["confidence"] = [round(r.confidence, 4) for r in results]
    frame["tier"] = [r.tier for r in results]
    frame["reason"] = [r.reason for r in results]
    return frame


def classify_csv(classifier: HybridClassifier, source: CsvSource, output: str | Path | TextIO,
                 progress: Progress | None = None, chunk_rows: int = CHUNK_ROWS) -> CsvSummary:
    """Stream `source` through the classifier into `output` (a path, or an open stream such as stdout).

    A path is written through a temporary file beside it and renamed into place only when every row is
    done, so a failed run leaves neither a partial output nor a stray temporary file.
    """
    if not isinstance(output, str | Path):
        return _classify_into(classifier, source, output, progress, chunk_rows)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            summary = _classify_into(classifier, source, handle, progress, chunk_rows)
        tmp.chmod(0o666 & ~_umask())  # mkstemp makes it owner-only; give it what a plain open would
        tmp.replace(output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return summary


def _classify_into(classifier: HybridClassifier, source: CsvSource, handle: TextIO,
                   progress: Progress | None, chunk_rows: int) -> CsvSummary:
    rows = empty = 0
    for i, chunk in enumerate(read_input_chunks(source, chunk_rows, progress)):
        out = classify_frame(classifier, chunk)
        write_csv(out, handle, header=i == 0)
        rows += len(out)
        empty += int(((out["tier"] == EMPTY_MESSAGE.tier) & (out["reason"] == EMPTY_MESSAGE.reason)).sum())
    return CsvSummary(rows=rows, empty_messages=empty)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_csv(frame: pd.DataFrame, handle: TextIO, header: bool = True) -> None:
    """`frame` as CSV (header and rows alike through `csv_cells`), one line per row."""
    if header:
        handle.write(",".join(csv_cells(pd.Series(list(frame.columns), dtype=object))) + "\n")
    if frame.empty:
        return
    columns = [csv_cells(frame[c]) for c in frame.columns]
    handle.write("\n".join(map(",".join, zip(*columns, strict=True))))
    handle.write("\n")


# OWASP's CSV-injection rule: a cell that starts with = + - @ tab or carriage return is run as a formula by
# spreadsheets; such a cell is written with a leading single quote, and quoted. A plain negative number
# (-3, -0.25, -1e5) is left alone: it cannot carry a formula, and escaping it would turn numeric columns
# into text for everyone who opens the file; anything else starting with "-" (-1+2, -cmd|...) is escaped.
_FORMULA_START = re.compile(r"[=+\-@\t\r]")
_PLAIN_NEGATIVE = re.compile(r"-(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_NEEDS_WORK = r'^[=+\-@\t\r]|[",\r\n]'


def csv_cells(column: pd.Series) -> list[str]:
    """The cells of one column as CSV text: formula-like cells escaped, cells that need it quoted."""
    text = column.astype(object).where(column.notna(), "").astype(str)
    cells = text.tolist()
    for i in np.flatnonzero(text.str.contains(_NEEDS_WORK).to_numpy()):  # most cells need nothing
        cells[i] = _csv_cell(cells[i])
    return cells


def _csv_cell(cell: str) -> str:
    if _FORMULA_START.match(cell) and not _PLAIN_NEGATIVE.fullmatch(cell):
        cell = "'" + cell
    elif not any(c in cell for c in '",\r\n'):
        return cell
    return '"' + cell.replace('"', '""') + '"'
