"""Benchmark results as JSON files (`--json OUT`), written the same way by every harness."""

from __future__ import annotations

import json
from pathlib import Path


def write_json_report(path: Path, payload: object) -> Path:
    """Write `payload` as indented JSON to `path`, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, default=str) + "\n", encoding="utf-8")
    return path
