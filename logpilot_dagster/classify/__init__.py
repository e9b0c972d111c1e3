"""Hybrid log classification: rules, then an embedding model, then an LLM, decided per template.

`classify([(source, message), ...])` is the Python API; see `classifier.py` for configuration.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from logpilot_dagster.classify.labels import DEFAULT_LABELS, UNCLASSIFIED

if TYPE_CHECKING:
    from logpilot_dagster.classify.classifier import ClassifierConfig
    from logpilot_dagster.classify.router import Classification

__all__ = ["DEFAULT_LABELS", "UNCLASSIFIED", "classify"]


def classify(items: Iterable[tuple[str, str]], config: ClassifierConfig | None = None) -> list[Classification]:
    """Classify (source, message) pairs; each result has target_label, confidence, tier and reason."""
    from logpilot_dagster.classify.classifier import classify as _classify

    return _classify(items, config)
