"""The system catalog CSV: who owns each system (`system_name, department, owner_email, criticality`)."""

from __future__ import annotations

import csv
from pathlib import Path

CATALOG_COLUMNS = ["system_name", "department", "owner_email", "criticality"]


def read_system_catalog(csv_path: Path) -> list[tuple[str, str, str, str]]:
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or [c.strip() for c in reader.fieldnames] != CATALOG_COLUMNS:
            raise ValueError(f"{csv_path}: expected columns {CATALOG_COLUMNS}, found {reader.fieldnames}")
        rows = []
        for n, row in enumerate(reader, start=2):
            if None in row or any(row[c] is None for c in CATALOG_COLUMNS):
                raise ValueError(f"{csv_path}: row {n} has {len(row)} fields, expected {len(CATALOG_COLUMNS)}")
            rows.append(tuple(row[c] for c in CATALOG_COLUMNS))
    return rows
