"""Which stream live ingestion reads, from arguments or the environment (read when asked, never at import)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from logpilot_dagster.live.stream import DEFAULT_BATCH_BYTES, DEFAULT_BATCH_RECORDS, LogStream
from logpilot_dagster.store.layout import HomeLayout

STREAM_ENV = "LOGPILOT_STREAM"
KAFKA_BOOTSTRAP_ENV = "LOGPILOT_KAFKA_BOOTSTRAP"
KAFKA_TOPIC_ENV = "LOGPILOT_KAFKA_TOPIC"
DEFAULT_TOPIC = "logpilot-logs"
KINDS = ("folder", "kafka")


@dataclass(frozen=True)
class StreamSettings:
    kind: str = "folder"
    bootstrap_servers: str = ""
    topic: str = DEFAULT_TOPIC
    batch_records: int = DEFAULT_BATCH_RECORDS
    batch_bytes: int = DEFAULT_BATCH_BYTES
    poll_timeout_s: float = 2.0  # an empty poll this long means "caught up"
    request_timeout_s: float = 10.0  # metadata and offset look-ups

    @classmethod
    def from_env(cls, **overrides) -> StreamSettings:
        given = {k: v for k, v in overrides.items() if v not in (None, "")}
        settings = cls(kind=os.environ.get(STREAM_ENV) or "folder",
                       bootstrap_servers=os.environ.get(KAFKA_BOOTSTRAP_ENV, ""),
                       topic=os.environ.get(KAFKA_TOPIC_ENV) or DEFAULT_TOPIC)
        return replace(settings, **given).checked()

    def checked(self) -> StreamSettings:
        if self.kind not in KINDS:
            raise ValueError(f"stream {self.kind!r} is not one of {', '.join(KINDS)} (${STREAM_ENV})")
        if self.kind == "kafka" and not self.bootstrap_servers:
            raise ValueError(f"the Kafka stream needs bootstrap servers (--bootstrap-servers or ${KAFKA_BOOTSTRAP_ENV})")
        if self.batch_records < 1 or self.batch_bytes < 1:
            raise ValueError("batch bounds must be positive")
        return self


def open_stream(layout: HomeLayout, settings: StreamSettings) -> LogStream:
    if settings.kind == "kafka":
        from logpilot_dagster.live.kafka import KafkaStream

        return KafkaStream(settings.bootstrap_servers, settings.topic, poll_timeout_s=settings.poll_timeout_s,
                           request_timeout_s=settings.request_timeout_s)
    from logpilot_dagster.live.folder import FolderStream

    return FolderStream(layout.live)
