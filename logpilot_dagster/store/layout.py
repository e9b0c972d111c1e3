"""Every path LogPilot writes, under one home folder (`LOGPILOT_HOME`, default `./.logpilot`).

The one place that decides where an artifact lives: the CLI, the API, the Dagster resources and the purge
all ask this layout, so a file added here is a file the purge can find. Nothing touches the disk until a
caller asks for it (`ensure`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

DEFAULT_HOME = ".logpilot"
HOME_ENV = "LOGPILOT_HOME"
# Names inside the labels folder that are not user CSVs, and the generator's truth file.
LLM_ANSWERS_FILE = "llm_answers.csv"
CORRECTIONS_FILE = "corrections.csv"
GOLDEN_DIR = "golden"
GROUND_TRUTH_FILE = "ground_truth.csv.gz"


class UnsafeKeyError(ValueError):
    """A partition key that would leave the landing folder (`..`, an absolute path, a NUL byte)."""


def check_partition_key(key: str) -> str:
    """A landing-file key is a relative posix path that stays inside its folder; anything else is refused
    before a path is built from it (keys can be typed into the UI)."""
    parts = PurePosixPath(key).parts
    if (not key or "\x00" in key or "\\" in key or key.startswith("/") or not parts
            or any(p in ("..", ".") for p in parts) or len(key) > 1024):
        raise UnsafeKeyError(f"partition key {key!r} is not a relative path inside the landing folder")
    return key


def safe_keys(keys) -> tuple[list[str], dict[str, str]]:
    """The keys that name a path inside the landing folder, and the refused ones with their reason."""
    ok, refused = [], {}
    for key in keys:
        try:
            ok.append(check_partition_key(key))
        except UnsafeKeyError as err:
            refused[key] = str(err)
    return ok, refused


@dataclass(frozen=True)
class HomeLayout:
    """The folders and files under `LOGPILOT_HOME`."""

    home: Path

    @classmethod
    def from_env(cls, home: str | os.PathLike[str] | None = None) -> HomeLayout:
        return cls(Path(home or os.environ.get(HOME_ENV) or DEFAULT_HOME).expanduser().resolve())

    # --- folders ---------------------------------------------------------------------------------------

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
    def tiering(self) -> Path:
        """Where a tiering move writes before it commits (outside warm/, so no reader sees half a move)."""
        return self.home / "tiering"

    @property
    def purge_requests(self) -> Path:
        """Right-to-be-forgotten requests (`*.json`) that purge_sensor picks up."""
        return self.home / "purge_requests"

    @property
    def purge_salt(self) -> Path:
        """The salt of the subject hashes in purge_audit (made once per home)."""
        return self.registry / "purge_salt"

    @property
    def sample_truth(self) -> Path:
        return self.home / "sample_truth"

    @property
    def runbooks(self) -> Path:
        """Markdown runbooks (`*.md`), chunked by heading into the runbook index."""
        return self.home / "runbooks"

    # --- files -----------------------------------------------------------------------------------------

    @property
    def duckdb(self) -> Path:
        return self.warehouse / "logpilot.duckdb"

    @property
    def system_catalog_csv(self) -> Path:
        return self.home / "system_catalog.csv"

    @property
    def sources_file(self) -> Path:
        """A user's own sources registry; the packaged default is used when it is absent."""
        return self.home / "sources.toml"

    def landing_keys(self) -> list[str]:
        """Landing files as partition keys: posix paths relative to the landing folder, sorted. Symlinks are
        listed (never followed) so that staging quarantines them with their reason instead of ignoring them."""
        if not self.landing.is_dir():
            return []
        keys = []
        for folder, dirs, files in os.walk(self.landing, followlinks=False):
            base = Path(folder)
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            linked_dirs = [d for d in dirs if (base / d).is_symlink()]
            for name in [*files, *linked_dirs]:
                if not name.startswith("."):
                    keys.append((base / name).relative_to(self.landing).as_posix())
        return sorted(keys)

    def landing_file(self, key: str) -> Path:
        return self.landing / check_partition_key(key)

    def staged_file(self, key: str) -> Path:
        """Staged records keep the landing folder structure: `nova/x.log.gz` → `nova/x.log.gz.parquet`."""
        return self.staging / (check_partition_key(key) + ".parquet")

    def stage_stats_file(self, key: str) -> Path:
        """Written last by staging: its presence means the partition's staging finished."""
        return self.staging / (check_partition_key(key) + ".json")

    def parsed_file(self, key: str) -> Path:
        return self.parsed / (check_partition_key(key) + ".parquet")

    def quarantine_file(self, key: str) -> Path:
        return self.quarantine / (check_partition_key(key) + ".parquet")

    @property
    def miner(self) -> Path:
        """The Drain3 miners' state (one owner at a time)."""
        return self.registry / "drain3"

    @property
    def miner_lock(self) -> Path:
        """Held by whoever learns into and saves the miner's state: the bootstrap's mining step, the live writer."""
        return self.registry / "drain3.lock"

    @property
    def purge_lock(self) -> Path:
        """Held by a purge for as long as it runs: a live batch read meanwhile is not stored (`purge_guard`)."""
        return self.registry / "purge.lock"

    @property
    def copies_lock(self) -> Path:
        """Held by the bootstrap's stage, parse and load steps while they write or read the Parquet copies of
        landing files, and by a purge while it rewrites them: neither reads a copy the other is replacing."""
        return self.registry / "copies.lock"

    @property
    def purge_mark(self) -> Path:
        """Rewritten by a purge when it starts and ends (`purge_guard`)."""
        return self.registry / "purge.mark"

    @property
    def purge_partial(self) -> Path:
        """The counts of purges that stopped part-way, one file per subject hash, until one finishes."""
        return self.registry / "purge_partial"

    @property
    def live_lock(self) -> Path:
        """Held by the one live writer (`logpilot live` or a live run)."""
        return self.registry / "live.lock"

    @property
    def schema_registry(self) -> Path:
        """Per-template regexes with named groups, accepted and rejected, with who proposed them."""
        return self.registry / "schema_registry.json"

    @property
    def proposed_sources(self) -> Path:
        """Source entries inferred for files no registry entry matches, with their evidence."""
        return self.registry / "proposed_sources.toml"

    @property
    def live_samples(self) -> Path:
        """Masked messages of live sources no registry entry names, kept to infer their format from."""
        return self.registry / "live_samples"

    def live_file(self, name: str) -> Path:
        """A file of the folder stream (`live/*.jsonl`)."""
        return self.live / check_partition_key(name)

    @property
    def mined_ledger(self) -> Path:
        """Partitions the miner has learned, with their line counts: re-runs do not count lines twice."""
        return self.registry / "mined_partitions.json"

    @property
    def template_catalog(self) -> Path:
        """Every template the miner knows, written by the mining step for the `templates` table."""
        return self.registry / "template_catalog.parquet"

    @property
    def classifier_store(self) -> Path:
        """Classifier versions, the PROMOTED pointer, the embedding cache and the exported graph."""
        return self.models / "classifier"

    @property
    def kv_ner_store(self) -> Path:
        return self.models / "kv_ner"

    @property
    def label_cache(self) -> Path:
        """Each template's decided label, keyed by the classifier that decided it."""
        return self.models / "template_labels_cache.json"

    @property
    def evaluation_report(self) -> Path:
        return self.models / "evaluation_report.json"

    @property
    def training_set(self) -> Path:
        return self.labels / "training_set.parquet"

    @property
    def llm_answers(self) -> Path:
        return self.labels / LLM_ANSWERS_FILE

    @property
    def corrections(self) -> Path:
        return self.labels / CORRECTIONS_FILE

    @property
    def golden(self) -> Path:
        """Labelled CSVs for evaluation only, never trained on."""
        return self.labels / GOLDEN_DIR

    @property
    def ground_truth(self) -> Path:
        """The sample generator's label of every line it wrote."""
        return self.sample_truth / GROUND_TRUTH_FILE

    def ensure(self) -> HomeLayout:
        for folder in (self.landing, self.staging, self.parsed, self.quarantine, self.registry,
                       self.warehouse, self.models, self.labels):
            folder.mkdir(parents=True, exist_ok=True)
        return self
