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
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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
    return sorted(base.parent.glob(f"{base.stem}-*{base.suffix}")) if base.parent.is_dir() else []


def files(base: Path) -> list[Path]:
    """The base (when there is one), then its segments."""
    return ([base] if base.is_file() else []) + segments(base)


def read(path: Path) -> VectorFile | None:
    try:
        with np.load(path, allow_pickle=False) as saved:
            name, vectors = str(saved["embedder"]), saved["vectors"]
            ends, blob = saved["ends"], saved["blob"].tobytes()
        starts = np.r_[0, ends[:-1]]
        texts = [blob[a:b].decode("utf-8") for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
    except (OSError, ValueError, KeyError, UnicodeDecodeError):
        return None
    return VectorFile(path, name, texts, vectors) if len(texts) == len(vectors) else None


def write(path: Path, embedder: str, texts: Sequence[str], vectors: np.ndarray) -> Path:
    """Write one file atomically (a reader sees the old one or the new one, never half of it)."""
    encoded = [t.encode("utf-8") for t in texts]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as handle:
        np.savez(handle, embedder=np.array(embedder), vectors=np.asarray(vectors, dtype=np.float32),
                 ends=np.cumsum([len(e) for e in encoded], dtype=np.int64),
                 blob=np.frombuffer(b"".join(encoded), dtype=np.uint8))
    tmp.replace(path)
    return path


def new_segment(base: Path) -> Path:
    return base.with_name(f"{base.stem}-{time.time_ns():020d}-{os.getpid()}{base.suffix}")
