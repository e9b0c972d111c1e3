"""The embedding model's transformer exported once to ONNX and run with ONNX Runtime.

Why: a process that labels a few new templates spent seconds importing torch and transformers' model code
and loading the model, more than labelling a million-line bootstrap's templates. ONNX Runtime imports and
opens the same network several times faster and gives the same vectors (`benchmarks/bench_embedding_runtimes.py`
measures both).

The graph is traced by the first process that loads the model with torch anyway (training, or the first
labelling), checked against torch on probe texts, and only then published into the model store
(`encoders/<folder digest>/`, beside the vector cache). That process then embeds with the graph too, and
every later process runs it without torch.
A graph is tied to its model folder by the folder's files (name, size, modification time): a changed folder
is traced again. Anything wrong with a graph means torch, with a warning, never a failed labelling.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

EXPORT_DIR = "encoders"  # in a model store
GRAPH_FILE = "model.onnx"
SOURCE_FILE = "source.json"  # the model folder's fingerprint the graph was traced from
OPSET = 17
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_MODEL_FILES = ("config.json", "tokenizer.json", "model.safetensors", "pytorch_model.bin")


class TorchTransformer:
    """The folder's transformer with torch: token ids, mask and types in, token vectors out. `for_export`
    loads it with eager attention (a plain graph of matmuls and an explicit mask, no fused kernel whose
    branches a trace would freeze); such a copy gives the reference vectors, is traced, and is not served
    afterwards (tracing alters it)."""

    backend = "torch"

    def __init__(self, folder: Path, for_export: bool = False):
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # a "Loading weights" bar on stderr in every labelling step
        self._torch = torch
        options = {"attn_implementation": "eager", "local_files_only": True} if for_export else {
            "local_files_only": True}
        self.model = AutoModel.from_pretrained(str(folder), **options).eval()

    def __call__(self, ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            out = self.model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                             token_type_ids=torch.from_numpy(types))
        return out.last_hidden_state.numpy()


class OnnxTransformer:
    """The same transformer as an exported graph in ONNX Runtime (CPU)."""

    backend = "onnx"

    def __init__(self, graph: Path):
        import onnxruntime

        self.graph = graph
        self.session = onnxruntime.InferenceSession(str(graph), providers=["CPUExecutionProvider"])

    def __call__(self, ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> np.ndarray:
        return self.session.run(None, dict(zip(_INPUTS, (ids, mask, types), strict=True)))[0]


def published_graph(folder: Path, export_dir: Path) -> Path | None:
    """The graph traced from this very folder (same files, sizes and times), if one was published."""
    slot = _slot(folder, export_dir)
    try:
        source = json.loads((slot / SOURCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    graph = slot / GRAPH_FILE
    return graph if source == fingerprint(folder) and graph.is_file() else None


def can_publish(export_dir: Path) -> bool:
    """Whether a graph could be written there (a read-only store would only cost a second torch load)."""
    existing = export_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return os.access(existing, os.W_OK)


def export_graph(transformer: TorchTransformer, folder: Path, export_dir: Path,
                 sample: tuple[np.ndarray, np.ndarray, np.ndarray],
                 agrees: Callable[[OnnxTransformer], bool]) -> OnnxTransformer | None:
    """Trace the folder's loaded transformer (`for_export`) to ONNX on `sample` (ids, mask, types of a padded
    batch), publish the graph only if `agrees` (compared against torch), and return it opened; None, with a
    warning, when tracing or the check fails (torch then stays in use)."""
    slot = _slot(folder, export_dir)
    draft = slot.with_name(f"{slot.name}.draft-{os.getpid()}")
    try:
        draft.mkdir(parents=True)
        _trace(transformer.model, draft / GRAPH_FILE, sample)
        graph = OnnxTransformer(draft / GRAPH_FILE)  # the session holds the graph: the file may move
        if not agrees(graph):
            log.warning("the ONNX graph traced from %s disagrees with torch; torch stays in use", folder)
            return None
        (draft / SOURCE_FILE).write_text(json.dumps(fingerprint(folder)), encoding="utf-8")
        shutil.rmtree(slot, ignore_errors=True)
        draft.rename(slot)  # readers see the old graph, none, or the whole new one
        graph.graph = slot / GRAPH_FILE
        return graph
    except Exception as err:  # an export is an optimisation: any failure leaves torch in use
        log.warning("cannot export %s to ONNX (%s); torch stays in use", folder, err)
        return None
    finally:
        shutil.rmtree(draft, ignore_errors=True)


def fingerprint(folder: Path) -> dict:
    files = {}
    for name in _MODEL_FILES:
        try:
            stat = (folder / name).stat()
        except OSError:
            continue
        files[name] = [stat.st_size, stat.st_mtime_ns]
    return {"folder": str(folder.resolve()), "files": files}


def _slot(folder: Path, export_dir: Path) -> Path:
    return export_dir / hashlib.sha1(str(folder.resolve()).encode("utf-8")).hexdigest()[:16]


def _trace(model, target: Path, sample: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Trace on a padded batch, so the masking path is the one recorded."""
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    with warnings.catch_warnings():  # the tracer warns about frozen branches; the parity check decides
        warnings.simplefilter("ignore")
        torch.onnx.export(LastHiddenState(model), tuple(torch.from_numpy(a) for a in sample), str(target),
                          dynamo=False, opset_version=OPSET, input_names=list(_INPUTS),
                          output_names=["last_hidden_state"],
                          dynamic_axes={n: {0: "batch", 1: "tokens"} for n in (*_INPUTS, "last_hidden_state")})
