"""Tier 2: LogisticRegression over sentence embeddings of template keys; its probability is the confidence.

A trained model is a folder: `weights.npz` (the fitted regression's classes, coefficients and intercepts) and
`metadata.json` (format version, label set, embedder, threshold, training summary, metrics, created_at).
scikit-learn fits the model; serving needs numpy only (importing scikit-learn costs 1.5 to 3 s in every
process that labels, measured with `python -X importtime`: more than labelling a bootstrap's templates).
Format 2 folders (`model.joblib`, a pickled estimator) still load. `ModelStore` keeps numbered versions of such
folders (`v0001`, `v0002`, ...) and a `PROMOTED` pointer to the one in use; a new version is promoted only
when it scores at least as well as the promoted one (see `classify.training`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from logpilot_dagster.classify.embedder import Embedder
from logpilot_dagster.classify.keys import template_key
from logpilot_dagster.store.versions import METADATA_FILE, VersionStore
from logpilot_dagster.store.versions import write_json as store_write_json

WEIGHTS_FILE = "weights.npz"
LEGACY_ESTIMATOR_FILE = "model.joblib"  # format 2: the pickled scikit-learn estimator, still readable
DEFAULT_THRESHOLD = 0.5
FORMAT_VERSION = 3
READABLE_VERSIONS = (2, 3)


class ModelError(ValueError):
    """A model folder that is missing, incomplete, or a model that cannot be trained."""


@dataclass(frozen=True)
class LinearModel:
    """A fitted scikit-learn `LogisticRegression` as its weights; `predict_proba` gives the same probabilities."""

    classes_: np.ndarray  # named as scikit-learn names it
    coef: np.ndarray  # (classes, dims); one row when there are two classes (the logit of classes_[1])
    intercept: np.ndarray

    @classmethod
    def from_estimator(cls, estimator) -> LinearModel:
        return cls(np.asarray(estimator.classes_).astype(str), np.asarray(estimator.coef_, dtype=np.float64),
                   np.asarray(estimator.intercept_, dtype=np.float64))

    def predict_proba(self, vectors: np.ndarray) -> np.ndarray:
        scores = np.asarray(vectors, dtype=np.float64) @ self.coef.T + self.intercept
        if self.coef.shape[0] == 1:
            positive = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.column_stack([1.0 - positive, positive])
        scores -= scores.max(axis=1, keepdims=True)  # softmax without overflow
        np.exp(scores, out=scores)
        return scores / scores.sum(axis=1, keepdims=True)

    def save(self, path: Path) -> None:
        with path.open("wb") as handle:
            np.savez(handle, classes=self.classes_, coef=self.coef, intercept=self.intercept)

    @classmethod
    def read(cls, path: Path) -> LinearModel:
        with np.load(path, allow_pickle=False) as saved:
            return cls(saved["classes"], saved["coef"], saved["intercept"])


@dataclass
class LogClassifier:
    labels: tuple[str, ...]
    embedder_name: str
    threshold: float
    estimator: LinearModel
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def predict_keys(self, keys: Sequence[str], embedder: Embedder) -> list[tuple[str, float]]:
        """(label, probability) per template key, in one batched embedding call."""
        if not keys:
            return []
        probabilities = self.estimator.predict_proba(embedder.embed(list(keys)))
        best = probabilities.argmax(axis=1)
        classes = self.estimator.classes_
        return [(str(classes[i]), float(probabilities[row, i])) for row, i in enumerate(best)]

    def predict(self, messages: Sequence[str], embedder: Embedder) -> list[tuple[str, float]]:
        return self.predict_keys([template_key(m) for m in messages], embedder)

    def metadata(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "labels": list(self.labels),
            "embedder": self.embedder_name,
            "threshold": self.threshold,
            "created_at": self.created_at,
            "training": self.training,
            "metrics": self.metrics,
        }

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.estimator.save(directory / WEIGHTS_FILE)
        write_json(directory / METADATA_FILE, self.metadata())
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> LogClassifier:
        directory = Path(directory)
        if not (directory / METADATA_FILE).is_file():
            raise ModelError(f"{directory} is not a trained model folder (no {METADATA_FILE})")
        try:
            meta = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ModelError(f"{directory}: unreadable {METADATA_FILE}: {err}") from err
        version = meta.get("format_version") if isinstance(meta, dict) else None
        if version not in READABLE_VERSIONS or isinstance(version, bool):
            raise ModelError(f"{directory}: model format {version} is not one of {READABLE_VERSIONS}; "
                             "retrain it with `logpilot train`")
        weights = directory / (WEIGHTS_FILE if version == FORMAT_VERSION else LEGACY_ESTIMATOR_FILE)
        if not weights.is_file():
            raise ModelError(f"{directory} is not a trained model folder (no {weights.name})")
        try:
            estimator = (LinearModel.read(weights) if version == FORMAT_VERSION
                         else LinearModel.from_estimator(_load_legacy(weights)))
        except (OSError, ValueError, KeyError) as err:
            raise ModelError(f"{directory}: unreadable {weights.name}: {err}") from err
        missing = [key for key in ("labels", "embedder", "threshold") if key not in meta]
        if missing:
            raise ModelError(f"{directory}: {METADATA_FILE} lacks {', '.join(missing)}")
        return cls(
            labels=tuple(meta["labels"]),
            embedder_name=meta["embedder"],
            threshold=float(meta["threshold"]),
            estimator=estimator,
            training=meta.get("training", {}),
            metrics=meta.get("metrics", {}),
            created_at=meta.get("created_at", ""),
        )


def train_classifier(
    messages: Sequence[str],
    labels: Sequence[str],
    embedder: Embedder,
    threshold: float = DEFAULT_THRESHOLD,
    regularisation: float = 10.0,
    max_keys_per_label: int | None = None,
    seed: int = 0,
    class_weight: str | None = None,
    key_weighting: str = "log_lines",
) -> LogClassifier:
    """Fit on one example per distinct (template key, label): repeats of a template add cost, not information.

    The label set is the labels seen in training, so a model trained from a user's CSV takes its label set.
    `max_keys_per_label` caps the keys embedded per label (a seeded sample; None: every key). Classes are not
    reweighted by default: counted in keys, a label's weight follows how many variants its templates have
    (user names the key does not mask), and "balanced" weights then overrate labels with few keys
    (measured in `benchmarks/classification.md`: 0.96 instead of 1.00 held-out accuracy).
    `key_weighting="log_lines"` weighs each key by 1 + ln(its lines): a message seen thousands of times is
    fitted firmly (accuracy is counted in lines) while the variety of rare keys still counts; "none" weighs
    every key the same.
    """
    if len(messages) != len(labels):
        raise ModelError("messages and labels differ in length")
    if key_weighting not in ("log_lines", "none"):
        raise ModelError(f"key_weighting is 'log_lines' or 'none', not {key_weighting!r}")
    lines_per_pair = Counter((template_key(m), label) for m, label in zip(messages, labels, strict=True))
    pairs = sorted(lines_per_pair)
    label_set = sorted({label for _, label in pairs})
    if len(label_set) < 2:
        raise ModelError(f"training needs at least two labels, got {label_set or 'none'}")
    if max_keys_per_label is not None:
        rng = np.random.default_rng(seed)
        by_label = {lab: [p for p in pairs if p[1] == lab] for lab in label_set}
        pairs = sorted(p for lab in label_set for p in (
            by_label[lab] if len(by_label[lab]) <= max_keys_per_label
            else [by_label[lab][i] for i in rng.choice(len(by_label[lab]), max_keys_per_label, replace=False)]))
    keys = [key for key, _ in pairs]
    from sklearn.linear_model import LogisticRegression  # here, not at import: serving never needs it

    estimator = LogisticRegression(C=regularisation, max_iter=3000, class_weight=class_weight)
    weights = (1.0 + np.log([lines_per_pair[p] for p in pairs])) if key_weighting == "log_lines" else None
    estimator.fit(embedder.embed(keys), [label for _, label in pairs], sample_weight=weights)
    return LogClassifier(
        labels=tuple(label_set),
        embedder_name=embedder.name,
        threshold=threshold,
        estimator=LinearModel.from_estimator(estimator),
        training={"examples": len(messages), "distinct_keys": len(keys), "max_keys_per_label": max_keys_per_label,
                  "class_weight": class_weight, "regularisation": regularisation, "key_weighting": key_weighting,
                  "per_label": {lab: sum(1 for _, x in pairs if x == lab) for lab in label_set}},
    )


class ModelStore(VersionStore):
    """The classifier's versions (`store.versions`), loaded as `LogClassifier`s."""

    def add(self, model: LogClassifier) -> Path:
        return model.save(self.next_dir())

    def promoted(self) -> LogClassifier | None:
        directory = self.promoted_dir()
        return LogClassifier.load(directory) if directory else None

    def promote(self, directory: str | Path) -> None:
        try:
            super().promote(directory)
        except ValueError as err:
            raise ModelError(str(err)) from None


def resolve_model_dir(path: str | Path) -> Path:
    """A model folder itself, or a store whose promoted version is used."""
    path = Path(path)
    if (path / METADATA_FILE).is_file():
        return path
    promoted = ModelStore(path).promoted_dir()
    if promoted is None:
        raise ModelError(f"no trained model in {path} (neither a model folder nor a store with a promoted version)")
    return promoted


def _load_legacy(path: Path):
    import joblib

    return joblib.load(path)


def write_json(path: Path, payload: dict) -> None:
    store_write_json(path, payload, default=_jsonable)


def _jsonable(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
