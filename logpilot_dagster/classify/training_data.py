"""The training set as the platform keeps it: every labelled example from the labels folder, the generator's
ground truth joined to the lines in `logs`, LLM answers and human corrections, written as one Parquet file.

Used by the `training_set` asset and the `new_labels_sensor` (which counts labelled rows to decide when to
retrain); plain Python over a DuckDB connection, no Dagster.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from logpilot_dagster.classify.examples import EXAMPLE_COLUMNS, LLMAnswerLog, read_labelled_csv
from logpilot_dagster.classify.keys import template_key
from logpilot_dagster.store import tables
from logpilot_dagster.store.layout import CORRECTIONS_FILE, GOLDEN_DIR, LLM_ANSWERS_FILE, HomeLayout

# Columns of the stored training set: the labelled-example columns plus the template a line belongs to
# (the miner's id for lines from `logs`, else its template key), which keeps held-out splits honest.
TRAINING_COLUMNS = (*EXAMPLE_COLUMNS, "template_id")


def truth_joined_to_logs(con: duckdb.DuckDBPyConnection, truth_csv: str | Path) -> pd.DataFrame:
    """The generator's label for each line in `logs`, as stored (masked), with the miner's template id."""
    if not Path(truth_csv).is_file():
        return pd.DataFrame(columns=list(TRAINING_COLUMNS))
    return tables.truth_joined_to_logs(con, Path(truth_csv))


def labelled_folder(labels_dir: str | Path) -> pd.DataFrame:
    """User CSVs (`source, log_message, target_label`, any name but the two special files), LLM answers, and
    the human corrections file, in that order."""
    labels_dir = Path(labels_dir)
    parts = []
    if labels_dir.is_dir():
        for path in sorted(labels_dir.rglob("*.csv")):
            if path.name not in (LLM_ANSWERS_FILE, CORRECTIONS_FILE) and GOLDEN_DIR not in path.relative_to(
                    labels_dir).parts[:-1]:
                parts.append(read_labelled_csv(path, "csv"))
        parts.append(LLMAnswerLog(labels_dir / LLM_ANSWERS_FILE).read())
        if (labels_dir / CORRECTIONS_FILE).is_file():
            parts.append(read_labelled_csv(labels_dir / CORRECTIONS_FILE, "human"))
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=list(EXAMPLE_COLUMNS))
    return pd.concat(parts, ignore_index=True)


def assemble_training_set(con: duckdb.DuckDBPyConnection | None, layout: HomeLayout) -> pd.DataFrame:
    """All examples, one row per labelled line. Human corrections win over every other label of the same
    template key of the same source; examples without a miner template id get their template key."""
    parts = [labelled_folder(layout.labels)]
    if con is not None:
        parts.append(truth_joined_to_logs(con, layout.ground_truth))
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=list(TRAINING_COLUMNS))
    frame = pd.concat(parts, ignore_index=True)
    if "template_id" not in frame.columns:
        frame["template_id"] = None
    keys = frame["log_message"].map(template_key)
    frame["template_id"] = frame["template_id"].where(frame["template_id"].notna(), "key:" + keys)
    return corrections_win(frame, keys).loc[:, list(TRAINING_COLUMNS)].astype(str).reset_index(drop=True)


def corrections_win(frame: pd.DataFrame, keys: pd.Series | None = None) -> pd.DataFrame:
    """A human correction replaces every other example of the same template key of the same source."""
    keys = frame["log_message"].map(template_key) if keys is None else keys
    frame = frame.assign(_key=frame["source"] + "\x00" + keys)
    human = frame[frame["label_source"] == "human"].drop_duplicates("_key", keep="last")
    frame = pd.concat([frame[~frame["_key"].isin(set(human["_key"]))], human], ignore_index=True)
    return frame.drop(columns="_key").reset_index(drop=True)


def write_training_set(frame: pd.DataFrame, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)
    return path


def read_training_set(path: str | Path) -> pd.DataFrame:
    return pd.read_parquet(path)


def labelled_rows(labels_dir: str | Path) -> dict[str, int]:
    """Rows per labelled CSV in the folder (relative path → rows), cheap enough for a sensor tick."""
    labels_dir = Path(labels_dir)
    counts: dict[str, int] = {}
    if not labels_dir.is_dir():
        return counts
    for path in sorted(labels_dir.rglob("*.csv")):
        try:
            with path.open("rb") as handle:
                counts[str(path.relative_to(labels_dir))] = max(0, sum(1 for _ in handle) - 1)
        except OSError:
            continue
    return counts

