"""How good a classifier is: accuracy, macro-F1 and F1 per label, a confusion matrix, the share of lines each
tier decided and its accuracy, LLM calls; and the promotion rule (a candidate must be at least as good).

Unclassified lines count as wrong: a tier that declines to answer does not make the model look better.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from logpilot_dagster.classify.labels import TIER_UNCLASSIFIED, UNCLASSIFIED

# Metrics a candidate must match or beat, with the tolerance for float noise.
PROMOTION_METRICS = ("accuracy", "macro_f1")
TOLERANCE = 1e-9


def classification_report(truth: Sequence[str], predicted: Sequence[str], tiers: Sequence[str] | None = None,
                          labels: Sequence[str] | None = None) -> dict:
    """Metrics over lines. `labels` fixes the label order (default: every label in truth, sorted)."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predictions differ in length")
    n = len(truth)
    labels = list(labels) if labels is not None else sorted(set(truth))
    correct = sum(t == p for t, p in zip(truth, predicted, strict=True))
    pairs = Counter(zip(truth, predicted, strict=True))
    per_label = {}
    for label in labels:
        tp = pairs[(label, label)]
        support = sum(v for (t, _), v in pairs.items() if t == label)
        predicted_n = sum(v for (_, p), v in pairs.items() if p == label)
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[label] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    scored = [label for label in labels if per_label[label]["support"]]
    columns = [*labels, UNCLASSIFIED] if UNCLASSIFIED not in labels else labels
    report = {
        "lines": n,
        "accuracy": correct / n if n else 0.0,
        "macro_f1": sum(per_label[label]["f1"] for label in scored) / len(scored) if scored else 0.0,
        "per_label": per_label,
        "confusion": {"labels": columns,
                      "matrix": [[pairs[(t, p)] for p in columns] for t in labels]},
        "unclassified": sum(p == UNCLASSIFIED for p in predicted) / n if n else 0.0,
    }
    if tiers is not None:
        by_tier = Counter(tiers)
        right = Counter(tier for tier, t, p in zip(tiers, truth, predicted, strict=True) if t == p)
        report["coverage_per_tier"] = {tier: count / n for tier, count in sorted(by_tier.items())}
        report["accuracy_per_tier"] = {tier: right[tier] / count for tier, count in sorted(by_tier.items())
                                       if tier != TIER_UNCLASSIFIED}
    return report


def kv_f1(predicted: Sequence[dict[str, str]], expected: Sequence[dict[str, str]]) -> dict:
    """Micro precision/recall/F1 of (key, value) pairs over lines; a pair counts when key and value both match."""
    tp = fp = fn = 0
    for got, want in zip(predicted, expected, strict=True):
        got_pairs, want_pairs = set(got.items()), set(want.items())
        tp += len(got_pairs & want_pairs)
        fp += len(got_pairs - want_pairs)
        fn += len(want_pairs - got_pairs)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "pairs_expected": tp + fn}


def promotion_decision(candidate: dict, incumbent: dict | None) -> tuple[bool, str]:
    """Promote when there is no incumbent, or when the candidate is at least as good on every promotion metric."""
    if incumbent is None:
        return True, "promoted: the first model (no earlier version to compare with)"
    worse = [f"{m} {candidate.get(m, 0.0):.4f} < {incumbent.get(m, 0.0):.4f}" for m in PROMOTION_METRICS
             if candidate.get(m, 0.0) + TOLERANCE < incumbent.get(m, 0.0)]
    if worse:
        return False, "worse than the promoted model: " + "; ".join(worse)
    return True, "at least as good as the promoted model (" + ", ".join(
        f"{m} {candidate.get(m, 0.0):.4f} >= {incumbent.get(m, 0.0):.4f}" for m in PROMOTION_METRICS) + ")"
