"""Numbered model versions under one folder (`v0001`, `v0002`, ...) and a `PROMOTED` pointer to the one in use.

One mechanism for every trained artifact (the classifier, the KV tagger): a version is written whole into its
own folder, then the pointer is swapped by rename, so a reader never sees half a model or half a pointer.
Why a version was (not) promoted is kept beside it in `promotion.json`, which the evaluation reads back.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

PROMOTED_FILE = "PROMOTED"
METADATA_FILE = "metadata.json"  # every version folder has one: a folder without it is not (yet) a version
DECISION_FILE = "promotion.json"


class VersionStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def versions(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and (p / METADATA_FILE).is_file())

    def next_dir(self) -> Path:
        """The folder the next version is written into (not created)."""
        self.root.mkdir(parents=True, exist_ok=True)
        existing = [int(p.name[1:]) for p in self.root.iterdir() if p.is_dir() and p.name[1:].isdigit()]
        return self.root / f"v{max(existing, default=0) + 1:04d}"

    def promoted_dir(self) -> Path | None:
        pointer = self.root / PROMOTED_FILE
        if not pointer.is_file():
            return None
        directory = self.root / pointer.read_text(encoding="utf-8").strip()
        return directory if (directory / METADATA_FILE).is_file() else None

    def promote(self, directory: str | Path) -> None:
        directory = Path(directory)
        if directory.parent.resolve() != self.root.resolve():
            raise ValueError(f"{directory} is not a version inside {self.root}")
        tmp = self.root / (PROMOTED_FILE + ".tmp")
        tmp.write_text(directory.name, encoding="utf-8")
        tmp.replace(self.root / PROMOTED_FILE)

    def record_decision(self, directory: str | Path, decision: dict) -> None:
        write_json(Path(directory) / DECISION_FILE, decision)

    def decision(self, directory: str | Path) -> dict:
        path = Path(directory) / DECISION_FILE
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def metadata(self, directory: str | Path) -> dict:
        path = Path(directory) / METADATA_FILE
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def discard(self, directory: str | Path) -> None:
        shutil.rmtree(directory, ignore_errors=True)


def write_json(path: Path, payload: dict, default=None) -> None:
    """Write-then-rename, so a reader sees the old file or the new one."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=default), encoding="utf-8")
    tmp.replace(path)
