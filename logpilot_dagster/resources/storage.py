"""Where a run reads and writes: the LogPilot home folder and the sources registry."""


from dagster import ConfigurableResource
from pydantic import Field

from logpilot_dagster.ingest.sources import SourcesRegistry
from logpilot_dagster.settings import HomeLayout


class LogPilotStorage(ConfigurableResource):
    """The home folder (`LOGPILOT_HOME`) with landing, staging, parsed, registry and warehouse inside."""

    home: str = Field(default="", description="LogPilot home; empty means $LOGPILOT_HOME or ./.logpilot")
    sources_file: str = Field(default="", description="Sources registry TOML; empty means "
                              "$LOGPILOT_HOME/sources.toml if present, else $LOGPILOT_SOURCES, else the default")
    workers: int = Field(default=0, description="Processes for staging and parsing; 0 means one per core")

    def layout(self) -> HomeLayout:
        return HomeLayout.from_env(self.home or None).ensure()

    def registry(self) -> SourcesRegistry:
        return SourcesRegistry.load(self.sources_file or None, self.layout().sources_file)

