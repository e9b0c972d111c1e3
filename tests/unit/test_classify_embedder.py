"""The real embedding model (loaded once per session): offline load, the text cache, and a model on top."""

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support.fixtures import real_embedder  # noqa: F401 (fixture)
from support.labelled import labelled_lines

from logpilot_dagster.classify import onnx_graph
from logpilot_dagster.classify.embedder import (
    EmbedderError,
    MeanPoolingEncoder,
    SentenceEmbedder,
    _load,
    _sentence_transformer,
    default_model_path,
)
from logpilot_dagster.classify.model import train_classifier
from logpilot_dagster.classify.onnx_graph import EXPORT_DIR, published_graph
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


PARITY_TEXTS = ["", "  padded  ", "user=alice id=42 failed to connect to 10.0.0.1:8080", "x " * 400,
                "Über straße 日本語 ✓"] + [f"line {i} with <NUM> tokens " * (i % 5 + 1) for i in range(150)]


@pytest.fixture(scope="module")
def reference_vectors():
    """sentence-transformers' own vectors for PARITY_TEXTS: what every faster path must reproduce."""
    return _sentence_transformer(default_model_path()).encode(PARITY_TEXTS, batch_size=64,
                                                              normalize_embeddings=True)


@pytest.fixture(scope="module")
def exported_store(tmp_path_factory):
    """A model store whose `encoders/` holds the default model's graph, exported by a first (torch) load."""
    store = tmp_path_factory.mktemp("store")
    first = MeanPoolingEncoder.for_folder(default_model_path(), store / EXPORT_DIR)
    assert first.backend == "onnx"  # loaded with torch, exported, then served from the checked graph
    return store


def test_the_default_model_runs_without_sentence_transformers_and_gives_its_vectors(real_embedder,  # noqa: F811
                                                                                    reference_vectors):
    """The mean-pooling encoder is only a faster way to the same vectors: any drift would silently change
    what a trained model sees, so it is pinned against sentence-transformers itself."""
    assert isinstance(_load(default_model_path()), MeanPoolingEncoder)
    ours = SentenceEmbedder().embed(PARITY_TEXTS)
    assert ours.shape == reference_vectors.shape == (len(PARITY_TEXTS), 384)
    assert ours.dtype == reference_vectors.dtype
    np.testing.assert_allclose(ours, reference_vectors, atol=1e-5)


def test_the_exported_graph_gives_the_same_vectors_in_onnx_runtime(exported_store, reference_vectors):
    assert published_graph(default_model_path(), exported_store / EXPORT_DIR) is not None
    encoder = MeanPoolingEncoder.for_folder(default_model_path(), exported_store / EXPORT_DIR)
    assert encoder.backend == "onnx"
    for batch_size in (64, 7, 1):  # other batch shapes than the one traced
        vectors = encoder.encode(PARITY_TEXTS[:40] if batch_size == 1 else PARITY_TEXTS, batch_size=batch_size)
        np.testing.assert_allclose(vectors, reference_vectors[:len(vectors)], atol=1e-5)


def test_batches_are_bounded_in_tokens_not_only_in_texts(exported_store, reference_vectors):
    """Attention's memory grows with batch × tokens²: long texts go in smaller batches, short ones in full."""
    encoder = MeanPoolingEncoder.for_folder(default_model_path(), exported_store / EXPORT_DIR)
    shapes = []
    run = encoder.transformer

    def recording(ids, mask, types):
        shapes.append(ids.shape)
        return run(ids, mask, types)

    encoder.transformer = recording
    texts = PARITY_TEXTS * 2  # 310 texts, 2 of them truncated at 256 tokens
    np.testing.assert_allclose(encoder.encode(texts), np.vstack([reference_vectors] * 2), atol=1e-5)
    assert max(rows * width for rows, width in shapes) <= MeanPoolingEncoder.TOKENS_PER_BATCH
    assert shapes[0][1] == 256 and max(rows for rows, _ in shapes) == 64


def test_with_an_exported_graph_labelling_never_imports_torch(exported_store):
    """The point of the export: a labelling process embeds new templates without torch's seconds of import."""
    script = (
        "import sys; from pathlib import Path\n"
        "from logpilot_dagster.classify.embedder import store_embedder\n"
        f"vectors = store_embedder(Path({str(exported_store)!r})).embed(['a template never seen <*>'])\n"
        "print(vectors.shape, sorted(n for n in sys.modules if n.split('.')[0] in ('torch', 'transformers')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "(1, 384) []"


def _model_copy(tmp_path: Path) -> Path:
    """The default model folder as links (the weights are not copied), so a test may change one file."""
    source, copy = default_model_path(), tmp_path / "model"
    for path in source.rglob("*"):
        if path.is_file():
            (copy / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            (copy / path.relative_to(source)).symlink_to(path)
    return copy


def test_a_graph_serves_only_the_folder_it_was_traced_from(tmp_path, exported_store):
    model = _model_copy(tmp_path)
    shutil.copytree(exported_store / EXPORT_DIR, tmp_path / EXPORT_DIR)
    assert published_graph(model, tmp_path / EXPORT_DIR) is None  # another folder
    MeanPoolingEncoder.for_folder(model, tmp_path / EXPORT_DIR)
    assert published_graph(model, tmp_path / EXPORT_DIR) is not None
    config = model / "config.json"
    config.unlink()
    shutil.copy(default_model_path() / "config.json", config)  # same content, a new file: trace again
    assert published_graph(model, tmp_path / EXPORT_DIR) is None


def test_a_damaged_graph_means_torch_and_a_new_export(tmp_path, exported_store, caplog):
    shutil.copytree(exported_store / EXPORT_DIR, tmp_path / EXPORT_DIR)
    graph = published_graph(default_model_path(), tmp_path / EXPORT_DIR)
    graph.write_bytes(b"not an onnx graph")
    with caplog.at_level(logging.WARNING):
        encoder = MeanPoolingEncoder.for_folder(default_model_path(), tmp_path / EXPORT_DIR)
    assert "cannot open the exported graph" in caplog.text
    assert encoder.backend == "onnx" and graph.stat().st_size > 1_000_000  # traced again from torch
    assert encoder.encode(["disk full on <*>"]).shape == (1, 384)


@pytest.mark.parametrize("failure", ["disagrees", "cannot trace"])
def test_a_graph_is_published_only_when_it_agrees_with_torch(tmp_path, monkeypatch, caplog, failure,
                                                             reference_vectors):
    if failure == "disagrees":
        monkeypatch.setattr(MeanPoolingEncoder, "PARITY_TOLERANCE", -1.0)  # nothing can agree
    else:
        def no_tracer(*args):
            raise RuntimeError("Module onnx is not installed!")

        monkeypatch.setattr(onnx_graph, "_trace", no_tracer)
    with caplog.at_level(logging.WARNING):
        encoder = MeanPoolingEncoder.for_folder(default_model_path(), tmp_path / EXPORT_DIR)
    assert encoder.backend == "torch"
    # Served by a fresh copy: tracing alters the model it traces.
    np.testing.assert_allclose(encoder.encode(PARITY_TEXTS[:20]), reference_vectors[:20], atol=1e-5)
    assert ("disagrees with torch" if failure == "disagrees" else "cannot export") in caplog.text
    assert published_graph(default_model_path(), tmp_path / EXPORT_DIR) is None
    assert not list((tmp_path / EXPORT_DIR).iterdir())  # no half-written draft left behind


@pytest.mark.parametrize("change", [
    ("1_Pooling/config.json", {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}),
    ("sentence_bert_config.json", {"do_lower_case": True}),
    ("config_sentence_transformers.json", {"prompts": {"query": "query: "}, "default_prompt_name": "query"}),
    ("modules.json", None),
])
def test_other_layouts_are_left_to_sentence_transformers(tmp_path, change):
    name, update = change
    source = default_model_path()
    for path in source.rglob("*.json"):
        (tmp_path / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, tmp_path / path.relative_to(source))
    assert MeanPoolingEncoder.plain_layout(tmp_path) == 256
    target = tmp_path / name
    if update is None:  # no Normalize module
        target.write_text(json.dumps(json.loads(target.read_text())[:2]))
    else:
        target.write_text(json.dumps({**json.loads(target.read_text()), **update}))
    assert MeanPoolingEncoder.plain_layout(tmp_path) is None and MeanPoolingEncoder.for_folder(tmp_path) is None


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


def test_a_save_writes_only_what_is_new_and_folds_segments_into_the_base(tmp_path, monkeypatch):
    """Saving a few new vectors must not rewrite the whole cache (30 MB on a make-run home); once segments
    pile up, the next save writes one base again and removes them."""
    from support.labelled import HashingEmbedder

    from logpilot_dagster.classify import vector_files
    from logpilot_dagster.classify.embedder import CachedEmbedder

    monkeypatch.setattr(vector_files, "MAX_SEGMENTS", 2)
    store = tmp_path / "embeddings.npz"
    first = CachedEmbedder(HashingEmbedder(), store=store)
    first.embed([f"template {i} <*>" for i in range(100)])
    first.save()
    assert vector_files.segments(store) == []  # no base yet: the first save is the base
    for n in range(2):
        cache = CachedEmbedder(HashingEmbedder(), store=store)
        cache.embed([f"new {n} <*>"])
        cache.save()
        (segment,) = vector_files.segments(store)[n:]
        assert vector_files.read(segment).texts == [f"new {n} <*>"]  # one vector, not 101
        assert vector_files.read(store).texts == [f"template {i} <*>" for i in range(100)]
    inner = HashingEmbedder()
    third = CachedEmbedder(inner, store=store)
    assert third.from_store == 102
    third.embed(["new 2 <*>"])
    third.save()  # two segments read: everything becomes the base again
    assert vector_files.segments(store) == [] and len(vector_files.read(store).texts) == 103
    last = CachedEmbedder(HashingEmbedder(), store=store)
    assert last.from_store == 103
    assert np.allclose(last.embed(["new 0 <*>"]), HashingEmbedder().embed(["new 0 <*>"]))


def test_a_fold_keeps_what_another_process_saved_since_and_skips_broken_segments(tmp_path, monkeypatch):
    from support.labelled import HashingEmbedder

    from logpilot_dagster.classify import vector_files
    from logpilot_dagster.classify.embedder import CachedEmbedder

    monkeypatch.setattr(vector_files, "MAX_SEGMENTS", 1)
    store = tmp_path / "embeddings.npz"
    seed = CachedEmbedder(HashingEmbedder(), store=store)
    seed.embed(["base <*>"])
    seed.save()
    vector_files.new_segment(store).write_bytes(b"")  # empty: a crash before anything was written
    a = CachedEmbedder(HashingEmbedder(), store=store)  # reads the base and the broken segment
    b = CachedEmbedder(HashingEmbedder(), store=store)
    b.embed(["saved by b <*>"])
    b.save()  # b read one segment: it folds, and the broken one is gone
    c = CachedEmbedder(HashingEmbedder(), store=store)
    c.embed(["saved by c <*>"])
    c.save()  # a segment a never read
    a.embed(["saved by a <*>"])
    a.save()  # a folds from what it read: c's segment must not be lost
    assert vector_files.segments(store) == []
    assert sorted(vector_files.read(store).texts) == ["base <*>", "saved by a <*>", "saved by b <*>", "saved by c <*>"]


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


def test_a_store_that_cannot_be_written_is_served_by_torch_without_an_export_attempt(tmp_path, monkeypatch):
    loads = []
    real = onnx_graph.TorchTransformer

    def counting(folder, for_export=False):
        loads.append(for_export)
        return real(folder, for_export)

    monkeypatch.setattr(onnx_graph, "TorchTransformer", counting)
    monkeypatch.setattr(onnx_graph.os, "access", lambda path, mode: False)  # as a read-only folder answers
    encoder = MeanPoolingEncoder.for_folder(default_model_path(), tmp_path / "store" / EXPORT_DIR)
    assert encoder.backend == "torch" and loads == [False]  # one plain load, no copy for tracing
    assert not (tmp_path / "store").exists()


def test_a_purge_reaches_the_cache_s_segments_too(tmp_path):
    from support.labelled import HashingEmbedder

    from logpilot_dagster.classify import vector_files
    from logpilot_dagster.classify.embedder import store_embedder
    from logpilot_dagster.store import sinks
    from logpilot_dagster.store.layout import HomeLayout

    layout = HomeLayout(tmp_path)
    base = layout.classifier_store / vector_files.EMBEDDINGS_FILE
    first = store_embedder(layout.classifier_store)
    first.inner = HashingEmbedder()
    first.embed(["user cust_qz7741 logged in", "disk full on <*>"])
    first.save()
    second = store_embedder(layout.classifier_store)
    second.inner = HashingEmbedder()
    second.embed(["password reset for cust_qz7741", "cust_qz77410 is another customer"])
    second.save()
    assert len(vector_files.segments(base)) == 1
    assert sinks._find_embeddings(layout, "cust_qz7741") == 2
    assert sinks._delete_embeddings(layout, "cust_qz7741") == 2
    assert sinks._find_embeddings(layout, "cust_qz7741") == 0
    left = [t for path in vector_files.files(base) for t in vector_files.read(path).texts]
    assert sorted(left) == ["cust_qz77410 is another customer", "disk full on <*>"]
    stored = b"".join(p.read_bytes() for p in base.parent.iterdir())
    assert b"logged in" not in stored and b"password reset" not in stored and b"another customer" in stored


def test_a_purge_removes_unreadable_cache_files_and_interrupted_writes(tmp_path):
    from support.labelled import HashingEmbedder

    from logpilot_dagster.classify import vector_files
    from logpilot_dagster.classify.embedder import CachedEmbedder
    from logpilot_dagster.store import sinks
    from logpilot_dagster.store.layout import HomeLayout

    layout = HomeLayout(tmp_path)
    base = layout.classifier_store / vector_files.EMBEDDINGS_FILE
    cache = CachedEmbedder(HashingEmbedder(), store=base)
    cache.embed(["user cust_qz7741 logged in"])
    cache.save()
    truncated = vector_files.new_segment(base)
    truncated.write_bytes(base.read_bytes()[:100])  # a segment a crash cut short
    interrupted = base.with_name(".embeddings-abc123.tmp")
    interrupted.write_bytes(b"user cust_qz7741 logged in")
    assert sinks._find_embeddings(layout, "cust_qz7741") == 1
    assert sinks._delete_embeddings(layout, "cust_qz7741") == 1
    left = sorted(p.name for p in base.parent.iterdir())
    # The base held only the subject: removed too. What is left: the lock and the purge's mark.
    assert left == ["embeddings.npz.lock", "embeddings.npz.purged"] and base.with_suffix(".npz.lock").stat().st_size == 0
    assert b"cust_qz7741" not in vector_files.purge_mark_path(base).read_bytes()


def test_a_purged_text_a_running_process_still_holds_is_not_saved_back(tmp_path, monkeypatch):
    """A long-lived process (`logpilot live`'s labeller) keeps its vectors in memory; a purge meanwhile removes
    the subject's texts from the files, and the process's next fold must not write them back."""
    from support.labelled import HashingEmbedder

    from logpilot_dagster.classify import vector_files
    from logpilot_dagster.classify.embedder import CachedEmbedder
    from logpilot_dagster.store import sinks
    from logpilot_dagster.store.layout import HomeLayout

    monkeypatch.setattr(vector_files, "MAX_SEGMENTS", 1)
    layout = HomeLayout(tmp_path)
    base = layout.classifier_store / vector_files.EMBEDDINGS_FILE
    running = CachedEmbedder(HashingEmbedder(), store=base)
    running.embed(["user cust_qz7741 logged in", "disk full on <*>"])
    running.save()
    assert sinks._delete_embeddings(layout, "cust_qz7741") == 1
    running.embed(["a new template <*>"])
    # Embedded after the purge, but this embedder last read the mark before it: dropped all the same (the
    # caller may have read the text before the purge, see the next test).
    assert running.save() is None
    running.embed(["a new template <*>", "another new one <*>"])  # embedded again, under the new mark
    running.save()  # a segment
    running.embed(["a third one <*>"])
    running.save()  # a fold
    assert vector_files.segments(base) == []
    assert sorted(vector_files.read(base).texts) == ["a new template <*>", "a third one <*>", "another new one <*>",
                                                     "disk full on <*>"]


@pytest.mark.parametrize("when", ["before the save", "while its segment is written", "before a fold",
                                  "removing the segment's temporary file"])
def test_vectors_embedded_before_a_purge_are_not_saved_after_it(tmp_path, monkeypatch, when):
    """A process embeds a text holding the subject (read before the purge), the purge runs, then the process
    saves: the text must not reach the files, whether the purge ran before the save or during it."""
    from support.labelled import HashingEmbedder

    from logpilot_dagster.classify import vector_files
    from logpilot_dagster.classify.embedder import CachedEmbedder
    from logpilot_dagster.store import sinks
    from logpilot_dagster.store.layout import HomeLayout

    layout = HomeLayout(tmp_path)
    base = layout.classifier_store / vector_files.EMBEDDINGS_FILE
    seed = CachedEmbedder(HashingEmbedder(), store=base)
    seed.embed(["disk full on <*>"])
    seed.save()  # a base: the next save writes a segment, unless segments piled up
    if when == "before a fold":
        monkeypatch.setattr(vector_files, "MAX_SEGMENTS", 0)
    inner = HashingEmbedder()
    running = CachedEmbedder(inner, store=base)
    running.embed(["user cust_qz7741 logged in", "a template <*>"])
    if when == "removing the segment's temporary file":
        real_write = vector_files.write

        def write_while_purged(path, *args):  # the purge runs as the temporary file is about to be renamed
            real_replace = Path.replace

            def purge_then_replace(self, target):
                m.setattr(Path, "replace", real_replace)  # once: the purge's own writes rename as usual
                sinks._delete_embeddings(layout, "cust_qz7741")
                return real_replace(self, target)

            with monkeypatch.context() as m:
                m.setattr(Path, "replace", purge_then_replace)
                return real_write(path, *args)

        monkeypatch.setattr(vector_files, "write", write_while_purged)
    elif when == "while its segment is written":
        real_write = vector_files.write

        def write_then_purge(path, *args):
            # The purge began (mark written, files listed) just before this segment existed.
            listed = vector_files.files(base)
            written = real_write(path, *args)
            with monkeypatch.context() as m:
                m.setattr(vector_files, "files", lambda _base: listed)
                sinks._delete_embeddings(layout, "cust_qz7741")
            return written

        monkeypatch.setattr(vector_files, "write", write_then_purge)
    else:
        sinks._delete_embeddings(layout, "cust_qz7741")
    assert running.save() is None and running.dropped_after_purge == 2
    monkeypatch.undo()
    stored = b"".join(p.read_bytes() for p in base.parent.iterdir() if p.is_file())
    assert b"cust_qz7741" not in stored
    assert [t for p in vector_files.files(base) for t in vector_files.read(p).texts] == ["disk full on <*>"]
    before = inner.texts
    running.embed(["a template <*>"])  # dropped from memory too: embedded again, and saved this time
    assert inner.texts == before + 1 and running.save() == base
    assert CachedEmbedder(HashingEmbedder(), store=base).from_store == 2


def test_a_fold_that_would_overflow_keeps_the_new_vectors_only(tmp_path, monkeypatch):
    """Over `max_items`, a fold starts again from the new vectors, never from the process's memory (which may
    hold texts purged since it read them)."""
    from support.labelled import HashingEmbedder

    from logpilot_dagster.classify import vector_files
    from logpilot_dagster.classify.embedder import CachedEmbedder

    monkeypatch.setattr(vector_files, "MAX_SEGMENTS", 0)  # every save folds
    store = tmp_path / "embeddings.npz"
    name = HashingEmbedder().name
    vector_files.write(store, name, ["user cust_qz7741 logged in"], HashingEmbedder().embed(["x"]))
    running = CachedEmbedder(HashingEmbedder(), max_items=3, store=store)
    assert running.from_store == 1
    others = ["x <*>", "y <*>", "z <*>"]  # saved by others since, and the subject purged
    vector_files.write(store, name, others, HashingEmbedder().embed(others))
    running.embed(["two <*>"])
    running.save()  # three in the files and one new: too many for one cache
    assert vector_files.read(store).texts == ["two <*>"]


def test_cache_files_are_created_under_the_umask_like_any_other(tmp_path):
    """Other processes (the API, a Dagster run as another user of the group) read the cache too."""
    import os

    from logpilot_dagster.classify import vector_files

    umask = os.umask(0o022)
    try:
        path = vector_files.write(tmp_path / "embeddings.npz", "m", ["a <*>"], np.ones((1, 4)))
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644 and [p.name for p in tmp_path.iterdir()] == ["embeddings.npz"]
