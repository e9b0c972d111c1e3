"""The real embedding model (loaded once per session): offline load, the text cache, and a model on top."""

import numpy as np
import pytest
from support.fixtures import real_embedder  # noqa: F401 (fixture)
from support.labelled import labelled_lines

from logpilot_dagster.classify.embedder import EmbedderError, SentenceEmbedder, default_model_path
from logpilot_dagster.classify.model import train_classifier
from logpilot_dagster.classify.router import Router


def test_default_model_is_the_packaged_one():
    path = default_model_path()
    assert path.is_dir() and (path / "modules.json").is_file()
    assert SentenceEmbedder().name == "all-MiniLM-L6-v2"


def test_a_missing_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(EmbedderError, match="does not exist"):
        SentenceEmbedder(tmp_path / "nope").embed(["x"])


def test_embeddings_are_normalised_and_cached_per_distinct_text(real_embedder):  # noqa: F811
    before = real_embedder.computed
    vectors = real_embedder.embed(["disk full on <*>", "disk full on <*>", "user <*> logged in"])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert np.allclose(vectors[0], vectors[1])
    real_embedder.embed(["disk full on <*>"])
    assert real_embedder.computed - before == 2


def test_model_on_real_embeddings_labels_new_lines(real_embedder):  # noqa: F811
    data = labelled_lines(per_template=4, seed=0)
    model = train_classifier(list(data["log_message"]), list(data["target_label"]), real_embedder)
    fresh = labelled_lines(per_template=3, seed=42)
    router = Router(model=model, embedder=real_embedder, threshold=0.0)
    decisions = router.decide(list(zip(fresh["source"], fresh["log_message"], strict=True)))
    accuracy = np.mean([d.target_label == t for d, t in zip(decisions, fresh["target_label"], strict=True)])
    assert accuracy >= 0.95


def test_a_stored_cache_carries_vectors_to_the_next_process(tmp_path):
    from support.labelled import HashingEmbedder

    from logpilot_dagster.classify.embedder import CachedEmbedder

    store = tmp_path / "store" / "embeddings.npz"
    texts = ["disk full on <*>", "user <*> logged in", "résumé uploaded — ✓ <*>", "multi\nline <*>"]
    first = CachedEmbedder(HashingEmbedder(), store=store)
    vectors = first.embed(texts)
    assert first.save() == store and first.save() is None  # nothing new the second time

    inner = HashingEmbedder()
    second = CachedEmbedder(inner, store=store)
    assert second.from_store == len(texts)
    assert np.allclose(second.embed(texts), vectors) and inner.texts == 0  # nothing embedded again
    second.embed(["a new template <*>"])
    assert inner.texts == 1


def test_a_foreign_or_broken_store_is_ignored(tmp_path):
    from support.labelled import HashingEmbedder

    from logpilot_dagster.classify.embedder import CachedEmbedder

    store = tmp_path / "embeddings.npz"
    first = CachedEmbedder(HashingEmbedder(), store=store)
    first.embed(["disk full on <*>"])
    first.save()
    other = HashingEmbedder()
    other.name = "another-model"
    assert CachedEmbedder(other, store=store).from_store == 0  # vectors of another model never mix in
    store.write_bytes(b"not an npz file")
    broken = CachedEmbedder(HashingEmbedder(), store=store)
    assert broken.from_store == 0 and broken.embed(["x"]).shape == (1, 256)
