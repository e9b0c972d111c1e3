"""Training set assembly, a held-out split, training, evaluation and promotion of the model tier.

`train_and_register` is what `logpilot train`, the `log_classifier` asset and the benchmark call: train on
one part, evaluate rules + model (no LLM) on the held-out part, evaluate the promoted model on the same part,
store the new version and promote it only if it is at least as good. The previous model stays in use otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from logpilot_dagster.classify.embedder import CachedEmbedder, Embedder
from logpilot_dagster.classify.evaluation import classification_report, promotion_decision
from logpilot_dagster.classify.examples import (
    EXAMPLE_COLUMNS,
    labelled_frame,
)
from logpilot_dagster.classify.keys import template_key
from logpilot_dagster.classify.model import (
    DEFAULT_THRESHOLD,
    LogClassifier,
    ModelError,
    ModelStore,
    train_classifier,
)
from logpilot_dagster.classify.router import Router
from logpilot_dagster.classify.rules import RuleSet

# Accuracy the model tier must keep on validation lines when its confidence threshold is calibrated.
CALIBRATION_TARGET = 0.99
_GENERATOR_SLOT = re.compile(r"\{[^{}\s]*\}|<[A-Za-z_*]*>")


def build_training_set(labels_dir: str | Path | None = None, ground_truth: str | Path | None = None) -> pd.DataFrame:
    """Every labelled example without a warehouse (`logpilot train`): the labels folder as the platform reads
    it (`training_data.labelled_folder`) and the generator's ground truth; human corrections win."""
    from logpilot_dagster.classify.training_data import corrections_win, labelled_folder

    parts = [labelled_folder(labels_dir)] if labels_dir else []
    if ground_truth and Path(ground_truth).is_file():
        parts.append(read_ground_truth(ground_truth))
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=list(EXAMPLE_COLUMNS))
    return corrections_win(pd.concat(parts, ignore_index=True))


def read_ground_truth(path: str | Path) -> pd.DataFrame:
    """The sample generator's truth (`source, template, label`, one row per line) as labelled examples; the
    template's slots are turned into the `<*>` placeholder the template key uses."""
    truth = pd.read_csv(path, dtype=str, keep_default_na=False, usecols=["source", "template", "label"])
    truth = truth.drop_duplicates()
    frame = pd.DataFrame({
        "source": truth["source"],
        "log_message": truth["template"].map(lambda t: _GENERATOR_SLOT.sub("<*>", t)),
        "target_label": truth["label"],
    })
    return labelled_frame(frame, str(path), "ground_truth")


def held_out_split(frame: pd.DataFrame, test_size: float = 0.2, seed: int = 0,
                   by: str = "line") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and test parts, stable across runs: a line (or template) lands on the same side every time the
    training set is rebuilt, so a promoted model never trained on lines a later candidate is tested on,
    and the promotion comparison stays fair as labels accumulate.

    `by="line"`: lines whose (source, message, n-th repeat) hash falls under `test_size` are held out
    (templates recur on both sides, as in production; a label with no such line gives up its lowest-hash one).
    `by="template"`: whole templates go to one side, the lowest-hash `test_size` share of each label's
    templates — the `template_id` column when the frame has one (the miner's or the generator's id), else
    the template key — so the model meets templates it has never seen."""
    if len(frame) < 2:
        raise ModelError(f"need at least two labelled examples to hold some out, got {len(frame)}")
    if by == "line":
        # The n-th repeat of a message is its own line: a message that never varies still lands on both sides.
        repeat = frame.groupby(["source", "log_message"], sort=False).cumcount().astype(str)
        keys = frame["source"].astype(str) + "\x00" + frame["log_message"].astype(str) + "\x00" + repeat
    elif by == "template":
        keys = frame["source"].astype(str) + "\x00" + (
            frame["template_id"].astype(str) if "template_id" in frame.columns
            else frame["log_message"].map(template_key))
    else:
        raise ValueError(f"split by 'line' or 'template', not {by!r}")
    share = pd.Series(pd.util.hash_pandas_object(keys, index=False, hash_key=f"{seed:016d}"[-16:]).to_numpy()
                      / 2.0 ** 64, index=frame.index)
    test_mask = pd.Series(False, index=frame.index)
    for _, group in frame.groupby("target_label"):
        if by == "line":
            held = share.loc[group.index] < test_size
            if not held.any() and len(group) > 1 and test_size > 0:
                held.loc[share.loc[group.index].idxmin()] = True
        else:
            ranked = share.loc[group.index].groupby(keys.loc[group.index]).min().sort_values()
            n_test = int(round(len(ranked) * test_size)) if len(ranked) > 1 else 0
            held = keys.loc[group.index].isin(set(ranked.index[:n_test]))
        test_mask.loc[group.index] = held.to_numpy()
    return frame[~test_mask].reset_index(drop=True), frame[test_mask].reset_index(drop=True)


def evaluate_model(model: LogClassifier | None, embedder: Embedder | None, frame: pd.DataFrame,
                   rules: RuleSet | None = None) -> dict:
    """Rules + model (no LLM) over the labelled lines in `frame`."""
    router = Router(rules=rules, model=model, embedder=embedder if model else None, llm=None)
    decisions = router.decide(list(zip(frame["source"], frame["log_message"], strict=True)))
    report = classification_report(list(frame["target_label"]), [d.target_label for d in decisions],
                                   [d.tier for d in decisions], labels=sorted(set(frame["target_label"])))
    report["llm_calls"] = router.stats.llm_calls
    report["templates"] = router.stats.templates
    return report


def calibrate_threshold(probabilities: Sequence[float], correct: Sequence[bool],
                        target_accuracy: float = CALIBRATION_TARGET) -> dict:
    """The lowest confidence threshold at which the model's accepted answers are still `target_accuracy`
    right (so coverage is as large as that allows), from validation lines the model did not train on.

    Returns the threshold with the validation coverage and accuracy it gives; `met` is False when no
    threshold reaches the target, and then the threshold is the one with the best accuracy (the model
    answers only where it is most sure)."""
    p = np.asarray(probabilities, dtype=float)
    ok = np.asarray(correct, dtype=bool)
    if not len(p):
        return {"threshold": DEFAULT_THRESHOLD, "met": False, "validation_lines": 0, "coverage": 0.0,
                "accuracy": None, "target_accuracy": target_accuracy}
    order = np.argsort(-p, kind="stable")
    p, ok = p[order], ok[order]
    accepted = np.arange(1, len(p) + 1)
    accuracy = np.cumsum(ok) / accepted
    # A threshold accepts every line with p >= it, so only the last of a run of equal probabilities counts.
    ends = np.r_[p[1:] != p[:-1], True]
    candidates = np.flatnonzero(ends & (accuracy >= target_accuracy))
    met = len(candidates) > 0
    cut = int(candidates[-1]) if met else int(np.flatnonzero(ends)[np.argmax(accuracy[ends])])
    return {"threshold": round(float(p[cut]), 6) if cut < len(p) - 1 or not met else 0.0, "met": met,
            "validation_lines": len(p), "coverage": float(accepted[cut] / len(p)),
            "accuracy": float(accuracy[cut]), "target_accuracy": target_accuracy}


def train_calibrated(frame: pd.DataFrame, embedder: Embedder, rules: RuleSet | None = None,
                     validation_size: float = 0.2, seed: int = 0, target_accuracy: float = CALIBRATION_TARGET,
                     validation_by: str = "line", min_threshold: float = DEFAULT_THRESHOLD,
                     **train_options) -> LogClassifier:
    """Train on `frame` with a confidence threshold calibrated on a validation part of it.

    A model is fitted on the rest, the threshold chosen on the validation lines that no rule decides
    (line-weighted, see `calibrate_threshold`), then the model is refitted on all of `frame` with that
    threshold; the calibration is kept in the model's `training` metadata. `validation_by="line"` calibrates
    for new lines of known templates (validation templates also occur in the fit part, so the threshold comes
    out low); `"template"` for templates the model has never seen (a stricter, higher threshold).
    The threshold is never below `min_threshold` (default 0.5, even odds): validation lines of known
    templates cannot show how unsure the model is on a template it has never seen, and below even odds its
    best label is less likely than the others together, so the line goes on to the LLM."""
    # Another seed than the train/test split's: with the same one the (stable, hashed) validation part of a
    # train part would be empty, since every line under the cut went to the test part.
    fit, validation = held_out_split(frame, test_size=validation_size, seed=seed + 7919, by=validation_by)
    if rules is not None and len(validation):
        unruled = [rules.first_match(s, m) is None
                   for s, m in zip(validation["source"], validation["log_message"], strict=True)]
        validation = validation[unruled]
    calibration = {"threshold": DEFAULT_THRESHOLD, "met": False, "validation_lines": 0}
    if len(validation) and fit["target_label"].nunique() >= 2:
        probe = train_classifier(list(fit["log_message"]), list(fit["target_label"]), embedder, **train_options)
        guesses = probe.predict(list(validation["log_message"]), embedder)
        calibration = calibrate_threshold([p for _, p in guesses],
                                          [g == t for (g, _), t in zip(guesses, validation["target_label"],
                                                                       strict=True)], target_accuracy)
    model = train_classifier(list(frame["log_message"]), list(frame["target_label"]), embedder,
                             max(calibration["threshold"], min_threshold), **train_options)
    model.training["threshold_calibration"] = {**calibration, "validation_size": validation_size,
                                            "validation_by": validation_by, "seed": seed,
                                            "min_threshold": min_threshold}
    return model


@dataclass(frozen=True)
class TrainingOutcome:
    version_dir: Path
    promoted: bool
    reason: str
    metrics: dict
    incumbent_metrics: dict | None
    in_use: Path | None  # the promoted version after this run
    threshold: float = 0.0  # the candidate's model-tier confidence threshold
    calibration: dict | None = None  # how it was calibrated, when it was


def train_and_register(frame: pd.DataFrame, store_root: str | Path, embedder: Embedder,
                       rules: RuleSet | None = None, test_size: float = 0.2, seed: int = 0,
                       split_by: str = "line", threshold: float | None = None,
                       train_options: dict | None = None) -> TrainingOutcome:
    """Train a new version, evaluate it and the promoted one on the same held-out lines, promote if not worse.

    `threshold=None` calibrates the model's confidence threshold on a validation part of the training lines
    (see `train_calibrated`); a number fixes it."""
    store = ModelStore(store_root)
    train, test = held_out_split(frame, test_size=test_size, seed=seed, by=split_by)
    if threshold is None:
        model = train_calibrated(train, embedder, rules, seed=seed, **(train_options or {}))
    else:
        model = train_classifier(list(train["log_message"]), list(train["target_label"]), embedder, threshold,
                                 **(train_options or {}))
    metrics = evaluate_model(model, embedder, test, rules) if len(test) else {}
    metrics.update(split={"by": split_by, "test_size": test_size, "seed": seed,
                          "train_lines": len(train), "test_lines": len(test)})
    model.metrics = metrics
    incumbent_metrics = None
    incumbent = store.promoted()
    if incumbent is not None and len(test):
        if incumbent.embedder_name == embedder.name:
            incumbent_metrics = evaluate_model(incumbent, embedder, test, rules)
        else:  # cannot embed for it here; its own recorded held-out scores are the best we have
            incumbent_metrics = incumbent.metrics or None
    promoted, reason = promotion_decision(metrics, incumbent_metrics)
    version_dir = store.add(model)
    store.record_decision(version_dir, {"promoted": promoted, "reason": reason,
                                        "incumbent": store.promoted_dir().name if store.promoted_dir() else None,
                                        "incumbent_metrics": _headline(incumbent_metrics),
                                        "candidate_metrics": _headline(metrics)})
    if promoted:
        store.promote(version_dir)
    if isinstance(embedder, CachedEmbedder):
        embedder.save()  # labelling and serving then embed only the templates training never saw
    return TrainingOutcome(version_dir, promoted, reason, metrics, incumbent_metrics, store.promoted_dir(),
                           model.threshold, model.training.get("threshold_calibration"))


def _headline(metrics: dict | None) -> dict | None:
    if metrics is None:
        return None
    return {k: metrics[k] for k in ("accuracy", "macro_f1", "lines") if k in metrics}
