"""Train the key-value NER model from the mined templates, score it on templates it did not see, and keep it
as a numbered version (`v0001`, ...) with a `PROMOTED` pointer, like the classifier's (`store.versions`)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from logpilot_dagster.classify.evaluation import kv_f1
from logpilot_dagster.extract.ner import expected_pairs, train_ner, training_examples
from logpilot_dagster.store.versions import VersionStore


@dataclass(frozen=True)
class NerOutcome:
    version_dir: Path
    metrics: dict
    templates_train: int
    templates_test: int


def train_kv_ner(templates: Sequence[str], store_root: str | Path, test_size: float = 0.2, seed: int = 0,
                 iterations: int = 10, per_template: int = 4, max_templates: int = 400) -> NerOutcome:
    """Hold out a share of templates, train on the rest, report KV F1 on the held-out ones, store, promote."""
    usable = sorted({t for t in templates if "<*>" in t})
    rng = random.Random(seed)
    rng.shuffle(usable)
    usable = usable[:max_templates]
    n_test = max(1, int(len(usable) * test_size)) if len(usable) > 1 else 0
    test, train = usable[:n_test], usable[n_test:]
    model = train_ner(training_examples(train, per_template=per_template, seed=seed), iterations=iterations,
                      seed=seed)
    held_out = training_examples(test, per_template=2, seed=seed + 1)
    expected = [expected_pairs(text, entities) for text, entities in held_out]
    metrics = kv_f1(model.extract([text for text, _ in held_out]), expected) if held_out else {}
    model.metadata["metrics"] = metrics
    model.metadata["templates"] = {"train": len(train), "test": len(test)}
    store = VersionStore(store_root)
    version_dir = model.save(store.next_dir())
    store.promote(version_dir)
    return NerOutcome(version_dir, metrics, len(train), len(test))
