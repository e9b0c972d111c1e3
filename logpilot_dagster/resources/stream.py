"""The live log stream as a Dagster resource: the folder under the home, or Kafka; the rest cannot tell."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field

from logpilot_dagster.live.settings import (
    DEFAULT_TOPIC,
    KAFKA_BOOTSTRAP_ENV,
    KAFKA_TOPIC_ENV,
    STREAM_ENV,
    StreamSettings,
    open_stream,
)
from logpilot_dagster.live.stream import DEFAULT_BATCH_BYTES, DEFAULT_BATCH_RECORDS, LogStream
from logpilot_dagster.store.layout import HomeLayout


class LogStreamResource(ConfigurableResource):
    """Read at run time, never when definitions load. Empty fields fall back to the environment
    (`LOGPILOT_STREAM`, `LOGPILOT_KAFKA_BOOTSTRAP`, `LOGPILOT_KAFKA_TOPIC`), then to the folder stream."""

    kind: str = Field(default="", description=f"folder | kafka; empty: ${STREAM_ENV} or folder")
    bootstrap_servers: str = Field(default="", description=f"Kafka HOST:PORT list; empty: ${KAFKA_BOOTSTRAP_ENV}")
    topic: str = Field(default="", description=f"Kafka topic; empty: ${KAFKA_TOPIC_ENV} or {DEFAULT_TOPIC}")
    batch_records: int = Field(default=DEFAULT_BATCH_RECORDS, description="records per live run, at most")
    batch_bytes: int = Field(default=DEFAULT_BATCH_BYTES, description="bytes per live run, at most")
    poll_timeout_s: float = Field(default=2.0, description="Kafka: an empty poll this long means caught up")

    def settings(self) -> StreamSettings:
        return StreamSettings.from_env(kind=self.kind, bootstrap_servers=self.bootstrap_servers, topic=self.topic,
                                       batch_records=self.batch_records, batch_bytes=self.batch_bytes,
                                       poll_timeout_s=self.poll_timeout_s)

    def open(self, layout: HomeLayout) -> LogStream:
        return open_stream(layout, self.settings())


class FolderStreamResource(LogStreamResource):
    """The folder stream, whatever the environment says (tests, single-machine installs)."""

    kind: str = "folder"


class KafkaStreamResource(LogStreamResource):
    """Kafka, with its servers and topic given here."""

    kind: str = "kafka"
