"""Where LogPilot keeps what it writes: one home folder, laid out the same way everywhere.

Plain Python so the CLI, the API and the Dagster resources share one definition of the layout.
Nothing here touches the disk until a caller asks for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = ".logpilot"
HOME_ENV = "LOGPILOT_HOME"


@dataclass(frozen=True)
class HomeLayout:
    """The folders and files under `LOGPILOT_HOME`."""

    home: Path

    @classmethod
    def from_env(cls, home: str | os.PathLike[str] | None = None) -> HomeLayout:
        return cls(Path(home or os.environ.get(HOME_ENV) or DEFAULT_HOME).expanduser().resolve())

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    @property
    def staging(self) -> Path:
        return self.home / "staging"

    @property
    def parsed(self) -> Path:
        return self.home / "parsed"

    @property
    def quarantine(self) -> Path:
        return self.home / "quarantine"

    @property
    def registry(self) -> Path:
        return self.home / "registry"

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse"

    @property
    def duckdb(self) -> Path:
        return self.warehouse / "logpilot.duckdb"

    @property
    def chroma(self) -> Path:
        return self.home / "chroma"

    @property
    def models(self) -> Path:
        return self.home / "models"

    @property
    def labels(self) -> Path:
        return self.home / "labels"

    @property
    def warm(self) -> Path:
        return self.home / "warm"

    @property
    def cold(self) -> Path:
        return self.home / "cold"

    @property
    def live(self) -> Path:
        return self.home / "live"

    @property
    def sample_truth(self) -> Path:
        return self.home / "sample_truth"

    @property
    def system_catalog_csv(self) -> Path:
        return self.home / "system_catalog.csv"

    @property
    def sources_file(self) -> Path:
        """A user's own sources registry; the packaged default is used when it is absent."""
        return self.home / "sources.toml"

    def ensure(self) -> HomeLayout:
        for folder in (self.landing, self.staging, self.parsed, self.quarantine, self.registry,
                       self.warehouse, self.models, self.labels):
            folder.mkdir(parents=True, exist_ok=True)
        return self
