"""Label templates the live miner created, through the label cache and the router (rules → model → LLM).

The classifier is built once per process, before the warehouse is opened, so the DuckDB file is held only
for the few reads and the one write `label_templates` does; known templates come from the cache.
"""

from __future__ import annotations

from logpilot_dagster.classify.template_labels import label_templates
from logpilot_dagster.llm.client import LLMConfig
from logpilot_dagster.store.layout import HomeLayout
from logpilot_dagster.store.locks import connect_when_free
from logpilot_dagster.store.versions import VersionStore


class TemplateLabeller:
    def __init__(self, llm: LLMConfig | None = None, embedder=None) -> None:
        self.llm, self.embedder = llm, embedder
        self._classifier = None

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
        classifier = self.classifier(layout)
        with connect_when_free(layout.duckdb) as con:
            return label_templates(con, classifier, layout.label_cache, corrections=layout.corrections)


def index_new_templates(layout: HomeLayout):
    """Bring the vector index up to date with `templates` (only new and changed ones are embedded), when
    the index exists; None when there is none to update."""
    from logpilot_dagster.vectors.index import default_embedder, index_exists, index_templates

    if not index_exists(layout):
        return None
    embedder = default_embedder(layout)
    result = index_templates(layout, embedder)
    if hasattr(embedder, "save"):
        embedder.save()
    return result
