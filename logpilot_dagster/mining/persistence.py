"""The miner's state on disk: one versioned JSON document, written atomically.

Each source keeps Drain3's own snapshot (the tree and clusters, as Drain3's `save_state` writes them) and
one example message per cluster. The document carries `format_version`; a reader refuses any other
version with a clear error instead of guessing. Version 2 added each source's `key_values` (see
`constants`); a version 1 document still loads, its sources starting with no key counts.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from logpilot_dagster.mining.config import MinerConfig

STATE_FILE = "miner_state.json"
FORMAT_VERSION = 2
# Versions this reader loads: the current one and those it can upgrade.
READABLE_VERSIONS = (1, 2)


@dataclass(frozen=True)
class SourceState:
    drain3_snapshot: str
    examples: dict[int, str]
    value_words: list[str] = field(default_factory=list)
    issued: dict[int, int] = field(default_factory=dict)
    signatures: dict[str, int] = field(default_factory=dict)
    key_values: dict[str, dict[str, int] | None] = field(default_factory=dict)


def write_state(folder: Path, config: MinerConfig, sources: dict[str, SourceState]) -> None:
    document = {
        "format_version": FORMAT_VERSION,
        "config": asdict(config),
        "sources": {
            name: {"drain3_snapshot": state.drain3_snapshot,
                   "examples": {str(k): v for k, v in state.examples.items()},
                   "value_words": state.value_words,
                   "issued": {str(k): v for k, v in state.issued.items()},
                   "signatures": state.signatures,
                   "key_values": state.key_values}
            for name, state in sources.items()
        },
    }
    folder.mkdir(parents=True, exist_ok=True)
    # Temp file in the same folder + os.replace: a reader sees the old state or the new, never half.
    # Its own name, created like any file so the umask applies (mkstemp's would be private to this user,
    # and the API or a run as another user of the group reads the state too).
    temp_name = folder / f".miner_state.{os.getpid()}.{secrets.token_hex(6)}.tmp"
    try:
        with open(temp_name, "x", encoding="utf-8") as temp:
            json.dump(document, temp)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, folder / STATE_FILE)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def read_state(folder: Path) -> tuple[MinerConfig, dict[str, SourceState]] | None:
    """The saved config and per-source state, or None when nothing was saved in `folder`."""
    path = folder / STATE_FILE
    if not path.exists():
        return None
    document = json.loads(path.read_text(encoding="utf-8"))
    version = document.get("format_version") if isinstance(document, dict) else None
    if isinstance(version, bool) or version not in READABLE_VERSIONS:  # `true == 1` in Python
        raise ValueError(
            f"{path}: miner state format version {version!r} is not supported "
            f"(this LogPilot reads versions {READABLE_VERSIONS[0]} to {FORMAT_VERSION}); re-mine the sources to "
            "rebuild it"
        )
    known = {field.name for field in fields(MinerConfig)}
    config = MinerConfig(**{k: v for k, v in document["config"].items() if k in known})
    sources = {
        name: SourceState(entry["drain3_snapshot"], {int(k): v for k, v in entry["examples"].items()},
                          list(entry["value_words"]), {int(k): v for k, v in entry["issued"].items()},
                          dict(entry["signatures"]), dict(entry.get("key_values", {})))
        for name, entry in document["sources"].items()
    }
    return config, sources
