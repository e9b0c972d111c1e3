"""The vector store (Chroma, persistent, under the LogPilot home) as a Dagster resource."""

from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from logpilot_dagster.store.layout import HomeLayout


class ChromaResource(ConfigurableResource):
    """A `chromadb.PersistentClient` folder, telemetry off, no embedding function: LogPilot computes the
    vectors (`vectors.index`). One writer at a time: assets that write it run in pool `chroma`."""

    path: str = Field(default="", description="Chroma folder; empty: $LOGPILOT_HOME/chroma")

    def folder(self, layout: HomeLayout) -> Path:
        return Path(self.path).expanduser() if self.path else layout.chroma

    def index(self, layout: HomeLayout, embedder):
        from logpilot_dagster.vectors.index import VectorIndex

        return VectorIndex(self.folder(layout), embedder)
