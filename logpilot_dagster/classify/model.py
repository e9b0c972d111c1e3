"""Tier 2: LogisticRegression over sentence embeddings of template keys; its probability is the confidence.

A trained model is a folder of plain files, with no pickle so that it loads across scikit-learn versions:
`model.json` (labels, embedder, threshold, training summary), `weights.npz` (coefficients) and
`metrics.json` (held-out scores). `ModelStore` keeps numbered versions of such folders and a `PROMOTED`
pointer to the one in use.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from logpilot_dagster.classify.embedder import Embedder
from logpilot_dagster.classify.keys import template_key

MODEL_FILE = "model.json"
WEIGHTS_FILE = "weights.npz"
METRICS_FILE = "metrics.json"
PROMOTED_FILE = "PROMOTED"
DEFAULT_THRESHOLD = 0.6
FORMAT_VERSION = 1


class ModelError(ValueError):
    """A model folder that is missing, incomplete, or cannot be trained."""


@dataclass
class LogClassifier:
    labels: tuple[str, ...]
    embedder_name: str
    threshold: float
    estimator: LogisticRegression
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)

    def predict_keys(self, keys: Sequence[str], embedder: Embedder) -> list[tuple[str, float]]:
        """(label, probability) per template key."""
        if not keys:
            return []
        probabilities = self.estimator.predict_proba(embedder.embed(list(keys)))
        best = probabilities.argmax(axis=1)
        classes = self.estimator.classes_
        return [(str(classes[i]), float(probabilities[row, i])) for row, i in enumerate(best)]

    def predict(self, messages: Sequence[str], embedder: Embedder) -> list[tuple[str, float]]:
        return self.predict_keys([template_key(m) for m in messages], embedder)

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(
            directory / WEIGHTS_FILE,
            coef=self.estimator.coef_,
            intercept=self.estimator.intercept_,
            classes=np.array(self.estimator.classes_, dtype=str),
        )
        description = {
            "format_version": FORMAT_VERSION,
            "labels": list(self.labels),
            "embedder": self.embedder_name,
            "threshold": self.threshold,
            "training": self.training,
        }
        (directory / MODEL_FILE).write_text(json.dumps(description, indent=2), encoding="utf-8")
        (directory / METRICS_FILE).write_text(json.dumps(self.metrics, indent=2), encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> LogClassifier:
        directory = Path(directory)
        if not (directory / MODEL_FILE).is_file() or not (directory / WEIGHTS_FILE).is_file():
            raise ModelError(f"{directory} is not a trained model folder (no {MODEL_FILE} / {WEIGHTS_FILE})")
        description = json.loads((directory / MODEL_FILE).read_text(encoding="utf-8"))
        weights = np.load(directory / WEIGHTS_FILE)
        estimator = LogisticRegression()
        estimator.classes_ = weights["classes"].astype(object)
        estimator.coef_ = weights["coef"]
        estimator.intercept_ = weights["intercept"]
        estimator.n_features_in_ = weights["coef"].shape[1]
        metrics_path = directory / METRICS_FILE
        return cls(
            labels=tuple(description["labels"]),
            embedder_name=description["embedder"],
            threshold=float(description["threshold"]),
            estimator=estimator,
            training=description.get("training", {}),
            metrics=json.loads(metrics_path.read_text(encoding="utf-8")) if metrics_path.is_file() else {},
        )


def train_classifier(
    messages: Sequence[str],
    labels: Sequence[str],
    embedder: Embedder,
    threshold: float = DEFAULT_THRESHOLD,
    regularisation: float = 10.0,
) -> LogClassifier:
    """Fit on the distinct (template key, label) pairs: repeats of a template add cost, not information."""
    if len(messages) != len(labels):
        raise ModelError("messages and labels differ in length")
    pairs = sorted({(template_key(m), label) for m, label in zip(messages, labels, strict=True)})
    label_set = sorted({label for _, label in pairs})
    if len(label_set) < 2:
        raise ModelError(f"training needs at least two labels, got {label_set or 'none'}")
    keys = [key for key, _ in pairs]
    estimator = LogisticRegression(C=regularisation, max_iter=2000, class_weight="balanced")
    estimator.fit(embedder.embed(keys), [label for _, label in pairs])
    return LogClassifier(
        labels=tuple(label_set),
        embedder_name=embedder.name,
        threshold=threshold,
        estimator=estimator,
        training={
            "examples": len(messages),
            "distinct_keys": len(keys),
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )


class ModelStore:
    """Numbered model versions under one folder (`v0001`, `v0002`, ...) and the one promoted for use."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def versions(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and (p / MODEL_FILE).is_file())

    def add(self, model: LogClassifier) -> Path:
        existing = [int(v[1:]) for v in self.versions() if v[1:].isdigit()]
        version = f"v{max(existing, default=0) + 1:04d}"
        return model.save(self.root / version)

    def promoted_dir(self) -> Path | None:
        pointer = self.root / PROMOTED_FILE
        if not pointer.is_file():
            return None
        directory = self.root / pointer.read_text(encoding="utf-8").strip()
        return directory if (directory / MODEL_FILE).is_file() else None

    def promote(self, directory: str | Path) -> None:
        directory = Path(directory)
        if directory.parent.resolve() != self.root.resolve():
            raise ModelError(f"{directory} is not a version inside {self.root}")
        # Write-then-rename so a reader never sees a half-written pointer.
        tmp = self.root / (PROMOTED_FILE + ".tmp")
        tmp.write_text(directory.name, encoding="utf-8")
        tmp.replace(self.root / PROMOTED_FILE)

    def discard(self, directory: str | Path) -> None:
        shutil.rmtree(directory, ignore_errors=True)


def resolve_model_dir(path: str | Path) -> Path:
    """A model folder itself, or a store whose promoted version is used."""
    path = Path(path)
    if (path / MODEL_FILE).is_file():
        return path
    promoted = ModelStore(path).promoted_dir()
    if promoted is None:
        raise ModelError(f"no trained model in {path} (neither a model folder nor a store with a promoted version)")
    return promoted
