"""Labelled examples: reading a user's labelled CSV, and keeping LLM answers as examples for the next training.

The labelled CSV format is `source, log_message, target_label` (more columns are ignored). Examples carry a
`label_source` saying where their label came from: `csv` (a user's file), `ground_truth` (the sample
generator), `llm` (an LLM answer, kept by `LLMAnswerLog`) or `human` (the corrections file a user edits).
"""

from __future__ import annotations

import csv
import threading
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from logpilot_dagster.store.layout import CORRECTIONS_FILE, LLM_ANSWERS_FILE  # noqa: F401 (names of the folder)

LABELLED_COLUMNS = ("source", "log_message", "target_label")
EXAMPLE_COLUMNS = (*LABELLED_COLUMNS, "label_source")
LABEL_SOURCES = ("csv", "ground_truth", "llm", "human")


class LabelledDataError(ValueError):
    """A labelled CSV that cannot be used, with a message that says which file and why."""


def read_labelled_csv(path: str | Path, label_source: str = "csv") -> pd.DataFrame:
    """The examples of one labelled CSV, with `label_source` added; rows without a message or label are dropped."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, compression="infer")
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise LabelledDataError(f"{path}: not a readable CSV: {err}") from err
    return labelled_frame(frame, str(path), label_source)


def labelled_frame(frame: pd.DataFrame, origin: str, label_source: str = "csv") -> pd.DataFrame:
    frame = frame.rename(columns=lambda c: str(c).strip().lower())
    missing = [c for c in LABELLED_COLUMNS if c not in frame.columns]
    if missing:
        raise LabelledDataError(f"{origin}: missing column(s) {', '.join(missing)}; a labelled CSV needs "
                                f"{', '.join(LABELLED_COLUMNS)}")
    frame = frame.loc[:, list(LABELLED_COLUMNS)].astype(str)
    frame["target_label"] = frame["target_label"].str.strip()
    frame = frame[(frame["log_message"].str.strip() != "") & (frame["target_label"] != "")]
    return frame.assign(label_source=label_source).reset_index(drop=True)


class LLMAnswerLog:
    """Appends each LLM answer to a CSV as a labelled example marked `label_source=llm` (thread-safe)."""

    columns = (*EXAMPLE_COLUMNS, "confidence", "created_at")

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def __call__(self, source: str, message: str, decision) -> None:
        row = [source, message, decision.target_label, "llm", f"{decision.confidence:.3f}",
               datetime.now(UTC).isoformat(timespec="seconds")]
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            new = not self.path.exists()
            with self.path.open("a", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                if new:
                    writer.writerow(self.columns)
                writer.writerow(row)

    def read(self) -> pd.DataFrame:
        if not self.path.is_file():
            return pd.DataFrame(columns=list(EXAMPLE_COLUMNS))
        frame = pd.read_csv(self.path, dtype=str, keep_default_na=False)
        return labelled_frame(frame, str(self.path), "llm").assign(label_source="llm")
