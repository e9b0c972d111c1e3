"""Label a sample warehouse from its ground truth, without training a model: what the search and question
benchmarks and their tests measure against (retrieval and SQL, not the classifier)."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from logpilot_dagster.store import tables
from logpilot_dagster.store.layout import HomeLayout


def label_from_truth(con: duckdb.DuckDBPyConnection, layout: HomeLayout) -> None:
    """Each template's majority label in the ground truth, written as a human label."""
    frame = tables.truth_joined_to_logs(con, layout.ground_truth)
    best = (frame.groupby(["template_id", "target_label"]).size().reset_index(name="n")
            .sort_values(["template_id", "n", "target_label"], ascending=[True, False, True])
            .drop_duplicates("template_id"))
    tables.write_template_labels(con, pa.table({
        "template_id": best.template_id.tolist(), "label": best.target_label.tolist(),
        "label_confidence": [1.0] * len(best), "label_tier": ["human"] * len(best)}))
