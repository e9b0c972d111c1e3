"""Where a run reads and writes: the LogPilot home folder, the sources registry, and the bounds of staging."""

from datetime import timedelta

from dagster import ConfigurableResource
from pydantic import Field

from logpilot_dagster.ingest.sources import SourcesRegistry
from logpilot_dagster.ingest.staging import StageLimits
from logpilot_dagster.store.layout import HomeLayout
from logpilot_dagster.store.tables import DEFAULT_LOAD_MEMORY


class LogPilotStorage(ConfigurableResource):
    """The home folder (`LOGPILOT_HOME`) with landing, staging, parsed, registry and warehouse inside."""

    home: str = Field(default="", description="LogPilot home; empty means $LOGPILOT_HOME or ./.logpilot")
    sources_file: str = Field(default="", description="Sources registry TOML; empty means "
                              "$LOGPILOT_HOME/sources.toml if present, else $LOGPILOT_SOURCES, else the default")
    workers: int = Field(default=0, description="Processes for staging and parsing; 0 means one per core")
    max_future_skew_hours: float = Field(
        default=24.0, description="Lines dated more than this after they are staged are quarantined "
        "(`future_timestamp`) and never move a watermark")
    load_memory_limit: str = Field(default=DEFAULT_LOAD_MEMORY,
                                   description="DuckDB memory_limit during the bulk load (e.g. 400MB, 2GB)")

    def layout(self) -> HomeLayout:
        return HomeLayout.from_env(self.home or None).ensure()

    def registry(self) -> SourcesRegistry:
        return SourcesRegistry.load(self.sources_file or None, self.layout().sources_file)

    def stage_limits(self) -> StageLimits:
        return StageLimits(max_future_skew=timedelta(hours=self.max_future_skew_hours))
