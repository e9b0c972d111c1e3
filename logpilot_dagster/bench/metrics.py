"""Log-parsing accuracy: GA, PA, FGA and FTA, as defined in the Loghub benchmark literature.

Inputs are two parallel sequences, one entry per line: the predicted group (any hashable: a template id)
and template, and the ground-truth group and template.

- GA, grouping accuracy: share of lines whose predicted group holds exactly the lines of their true group.
- PA, parsing accuracy: share of lines whose predicted template equals the true one (after `normalise`).
- FGA: F1 over groups; a predicted group is correct when its line set equals a true group's line set.
- FTA: F1 over templates; a predicted group is correct when its line set equals a true group's and its
  template equals that group's template (after `normalise`).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

# Wildcard spellings used by parsers and ground truths; all become `<*>`.
_WILDCARD_RE = re.compile(r"<\*>|<:\*:>|\{\*\}")


def normalise(template: str) -> str:
    """A template for comparison: wildcard spelled `<*>`, surrounding whitespace removed."""
    return _WILDCARD_RE.sub("<*>", template).strip()


@dataclass(frozen=True)
class Accuracy:
    GA: float
    PA: float
    FGA: float
    FTA: float
    groups_found: int
    groups_truth: int


def _f1(correct: int, found: int, truth: int) -> float:
    if correct == 0 or found == 0 or truth == 0:
        return 0.0
    precision, recall = correct / found, correct / truth
    return 2 * precision * recall / (precision + recall)


def _groups(labels: Sequence[Hashable]) -> dict[Hashable, list[int]]:
    groups: dict[Hashable, list[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(label, []).append(index)
    return groups


def accuracy(
    predicted_groups: Sequence[Hashable],
    predicted_templates: Sequence[str],
    truth_groups: Sequence[Hashable],
    truth_templates: Sequence[str],
) -> Accuracy:
    """All four metrics for one dataset. The four sequences are parallel (one entry per line)."""
    n = len(truth_groups)
    if not (len(predicted_groups) == len(predicted_templates) == len(truth_templates) == n):
        raise ValueError("predicted and truth sequences must have one entry per line each")
    if n == 0:
        return Accuracy(0.0, 0.0, 0.0, 0.0, 0, 0)
    predicted = _groups(predicted_groups)
    truth = _groups(truth_groups)
    truth_size = {label: len(lines) for label, lines in truth.items()}

    grouped_lines = 0
    correct_groups = 0
    correct_templates = 0
    for lines in predicted.values():
        first_truth = truth_groups[lines[0]]
        if truth_size[first_truth] != len(lines):
            continue
        if any(truth_groups[i] != first_truth for i in lines):
            continue
        grouped_lines += len(lines)
        correct_groups += 1
        # A group's template is the one the parser gave its lines; the truth's is its group's template.
        if normalise(predicted_templates[lines[0]]) == normalise(truth_templates[lines[0]]):
            correct_templates += 1

    parsed_lines = sum(
        1 for p, t in zip(predicted_templates, truth_templates, strict=True) if normalise(p) == normalise(t)
    )
    return Accuracy(
        GA=grouped_lines / n,
        PA=parsed_lines / n,
        FGA=_f1(correct_groups, len(predicted), len(truth)),
        FTA=_f1(correct_templates, len(predicted), len(truth)),
        groups_found=len(predicted),
        groups_truth=len(truth),
    )


def parsing_accuracy(predicted_templates: Sequence[str], truth_templates: Sequence[str]) -> float:
    """PA: share of lines whose own template equals the true one (after `normalise`)."""
    if len(predicted_templates) != len(truth_templates):
        raise ValueError("predicted and truth sequences must have one entry per line each")
    if not truth_templates:
        return 0.0
    hits = sum(1 for p, t in zip(predicted_templates, truth_templates, strict=True) if normalise(p) == normalise(t))
    return hits / len(truth_templates)
