"""Label templates the live miner created, through the label cache and the router (rules → model → LLM), and
add them to the vector index.

The classifier is built once per process, and the DuckDB file is held only to read the templates and to write
their labels, not while they are classified; known templates come from the cache. Both can `prepare` in a
background thread (the engine asks when a pass commits its first new template): loading the model and
importing chromadb then overlap the rest of the pass instead of following it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import suppress

from logpilot_dagster.llm.client import LLMConfig
from logpilot_dagster.store import tables
from logpilot_dagster.store.layout import HomeLayout
from logpilot_dagster.store.versions import VersionStore


class _Ahead:
    """Work started in a daemon thread and waited for before the real call. A failure there is not raised:
    the real call does the same work again and reports it."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None

    def start(self, work: Callable[[], object]) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, args=(work,), name="live-labelling-prepare",
                                            daemon=True)
            self._thread.start()

    @staticmethod
    def _run(work: Callable[[], object]) -> None:
        with suppress(Exception):  # the real call meets it again and reports it
            work()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()


class TemplateLabeller:
    def __init__(self, llm: LLMConfig | None = None, embedder=None) -> None:
        self.llm, self.embedder = llm, embedder
        self._classifier = None
        self._ahead = _Ahead()

    def prepare(self, layout: HomeLayout) -> None:
        """Build the classifier and load its embedding model in the background."""
        self._ahead.start(lambda: self._load(self.classifier(layout)))

    @staticmethod
    def _load(classifier) -> None:  # noqa: ANN001
        if classifier.embedder is not None and hasattr(classifier.embedder, "load"):
            classifier.embedder.load()

    def classifier(self, layout: HomeLayout):
        if self._classifier is None:
            from logpilot_dagster.classify.classifier import ClassifierConfig, HybridClassifier

            store = layout.classifier_store
            promoted = VersionStore(store).promoted_dir() if store.is_dir() else None
            config = ClassifierConfig(model_dir=str(store) if promoted else None, use_model=promoted is not None,
                                      llm=self.llm or LLMConfig.from_env(), llm_answers_csv=str(layout.llm_answers))
            self._classifier = HybridClassifier(config=config, embedder=self.embedder)
        return self._classifier

    def __call__(self, layout: HomeLayout):
        # Imported here: it brings pandas, which a live pass without new templates never needs.
        from logpilot_dagster.classify.template_labels import label_templates_between

        self._ahead.wait()
        classifier = self.classifier(layout)
        return label_templates_between(lambda: tables.connect(layout.duckdb), classifier, layout.label_cache,
                                       corrections=layout.corrections)


class TemplateIndexer:
    """Bring the vector index up to date with `templates` (only new and changed ones are embedded), when the
    index exists; None when there is none to update."""

    def __init__(self) -> None:
        self._ahead = _Ahead()
        self._embedder = None  # the classifier store's, kept from pass to pass: its cache is read once

    def prepare(self, layout: HomeLayout) -> None:
        """Import chromadb, open the index's client and read the embedding cache in the background (a second
        or more)."""
        from logpilot_dagster.vectors.index import chroma_client, index_exists

        if index_exists(layout):
            self._ahead.start(lambda: (chroma_client(layout.chroma), self.embedder(layout)))

    def embedder(self, layout: HomeLayout):
        if self._embedder is None:
            from logpilot_dagster.vectors.index import default_embedder

            self._embedder = default_embedder(layout)
        return self._embedder

    def __call__(self, layout: HomeLayout):
        from logpilot_dagster.vectors.index import index_exists, index_templates

        self._ahead.wait()
        if not index_exists(layout):
            return None
        embedder = self.embedder(layout)
        result = index_templates(layout, embedder)
        if hasattr(embedder, "save"):
            embedder.save()
        return result
