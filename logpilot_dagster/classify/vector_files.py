"""The embedding cache on disk: a base file and the segments saved after it, next to it.

A save writes only the vectors embedded since the last one, as a new segment, so it costs what is new
rather than what the cache holds (a make-run home's cache is ~19k texts, 30 MB: rewriting all of it took
0.17 s each time templates were labelled, twice per live pass). Once `MAX_SEGMENTS` have piled up, the
next save writes everything as the base again and removes the segments it read.

Each file holds the embedding model's name, the vectors, and the texts as one UTF-8 blob with end offsets
(fixed-width strings would be huge). It is only a cache: a file that cannot be read is skipped.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from logpilot_dagster.store.purge_guard import write_mark

EMBEDDINGS_FILE = "embeddings.npz"  # in a model store: the base, the vectors of every text embedded for it
MAX_SEGMENTS = 16


@dataclass
class VectorFile:
    path: Path
    embedder: str
    texts: list[str]
    vectors: np.ndarray


def segments(base: Path) -> list[Path]:
    """The segments saved after `base`, oldest first (their names sort by the time they were written)."""
    if not base.parent.is_dir():
        return []
    return sorted(base.parent.glob(f"{base.stem}-[0-9]*-[0-9]*{base.suffix}"))


def files(base: Path) -> list[Path]:
    """The base (when there is one), then its segments."""
    return ([base] if base.is_file() else []) + segments(base)


def lock_path(base: Path) -> Path:
    """Held while the store is folded into one base or purged: each reads every file, then rewrites them."""
    return base.with_name(base.name + ".lock")


def purge_mark_path(base: Path) -> Path:
    return base.with_name(base.name + ".purged")


def purge_mark(base: Path) -> str:
    """What the last purge wrote (empty before any): a saver that read an older mark may hold a purged
    subject's texts in what it has not saved, and drops it (see `CachedEmbedder.save`)."""
    try:
        return purge_mark_path(base).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return ""


def mark_purged(base: Path) -> None:
    """Written by a purge under the fold lock, before it reads the files."""
    write_mark(purge_mark_path(base), tmp_prefix=f".{base.stem}-purge")


def temporary(base: Path) -> list[Path]:
    """Files a write interrupted by a crash left behind (they may hold texts: the purge removes them)."""
    if not base.parent.is_dir():
        return []
    return sorted(base.parent.glob(f".{base.stem}*.tmp")) + sorted(base.parent.glob(f"{base.name}.tmp"))


def read(path: Path) -> VectorFile | None:
    """The file's contents; None when it cannot be read (missing, truncated, not an npz of this layout)."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            name, vectors = str(saved["embedder"]), saved["vectors"]
            ends, blob = saved["ends"].tolist(), saved["blob"].tobytes()
        starts = [0, *ends[:-1]] if ends else []
        texts = [blob[a:b].decode("utf-8") for a, b in zip(starts, ends, strict=True)]
    except Exception:  # noqa: BLE001 - a cache: whatever is wrong with the file (EOFError, BadZipFile, ...)
        return None
    return VectorFile(path, name, texts, vectors) if len(texts) == len(vectors) else None


def collect(base: Path, embedder: str) -> tuple[list[Path], dict[str, np.ndarray]]:
    """The files the store has now, and every vector of `embedder` in them (a later file's vector wins)."""
    listed = files(base)
    vectors: dict[str, np.ndarray] = {}
    for path in listed:
        found = read(path)
        if found is not None and found.embedder == embedder:
            vectors.update(zip(found.texts, found.vectors, strict=True))
    return listed, vectors


def write(path: Path, embedder: str, texts: Sequence[str], vectors: np.ndarray) -> Path:
    """Write one file atomically (a reader sees the old one or the new one, never half of it)."""
    encoded = [t.encode("utf-8") for t in texts]
    path.parent.mkdir(parents=True, exist_ok=True)
    # A name of its own (two threads or processes may write at once); created like any file, so the umask
    # applies (mkstemp's would be private to this user).
    tmp = path.with_name(f".{path.stem}-{os.getpid()}-{secrets.token_hex(6)}.tmp")
    try:
        with tmp.open("xb") as handle:
            np.savez(handle, embedder=np.array(embedder),
                     vectors=np.asarray(vectors, dtype=np.float32),
                     ends=np.cumsum([len(e) for e in encoded], dtype=np.int64),
                     blob=np.frombuffer(b"".join(encoded), dtype=np.uint8))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def new_segment(base: Path) -> Path:
    return base.with_name(f"{base.stem}-{time.time_ns():020d}-{os.getpid()}{base.suffix}")
