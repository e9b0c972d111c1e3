"""The Kafka stream, through confluent-kafka: the JSON record as the value, Kafka's timestamp as event time.

Nothing here trusts the broker's answers about offsets: a partition never committed starts at the offset
`offsets_for_times` gives for the earliest T1 (always with a timeout; -1 and errors mean its beginning),
and since a broker may answer an earlier offset than asked (the tansu test broker answers the earliest),
every record is still filtered by its source's T1 and stored only if its log_id is absent. The high
watermark is never used (tansu answers (0, 1) for a full partition): a batch ends at its bound or when a
bounded poll returns nothing, which is what "caught up" means here. Offsets are never committed to Kafka;
they are committed to DuckDB with the rows (`assign()` with explicit offsets, no consumer-group state).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition

from logpilot_dagster.live.stream import (
    DEFAULT_BATCH_BYTES,
    DEFAULT_BATCH_RECORDS,
    LogStream,
    StreamRange,
    StreamRead,
    StreamRecord,
    encode_record,
)

CONSUME_CHUNK = 5_000


class KafkaStream(LogStream):
    def __init__(self, bootstrap_servers: str, topic: str, poll_timeout_s: float = 2.0,
                 request_timeout_s: float = 10.0, consumer_config: dict[str, Any] | None = None) -> None:
        self.bootstrap_servers, self.topic = bootstrap_servers, topic
        self.poll_timeout_s, self.request_timeout_s = poll_timeout_s, request_timeout_s
        self.key = f"kafka:{topic}"
        self.consumer_config = {
            "bootstrap.servers": bootstrap_servers,
            "group.id": "logpilot-live",  # required by the client; no group state is used (assign, no commit)
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": False,
            "socket.timeout.ms": int(request_timeout_s * 1000),
            **(consumer_config or {}),
        }
        self._consumer: Consumer | None = None
        self._producer: Producer | None = None

    def partition_key(self, partition: int) -> str:
        return f"kafka/{self.topic}/{partition}"

    @property
    def consumer(self) -> Consumer:
        if self._consumer is None:
            self._consumer = Consumer(self.consumer_config)
        return self._consumer

    def partitions(self) -> list[int]:
        metadata = self.consumer.list_topics(self.topic, timeout=self.request_timeout_s)
        topic = metadata.topics.get(self.topic)
        if topic is None or topic.error is not None:
            if topic is not None and topic.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                return []
            raise KafkaException(topic.error if topic is not None else f"no metadata for topic {self.topic}")
        return sorted(topic.partitions)

    def plan(self, committed: dict[str, int], start_after: datetime | None,
             max_records: int = DEFAULT_BATCH_RECORDS, max_bytes: int = DEFAULT_BATCH_BYTES) -> StreamRange:
        partitions = self.partitions()
        start = {self.partition_key(p): committed[self.partition_key(p)] for p in partitions
                 if self.partition_key(p) in committed}
        missing = [p for p in partitions if self.partition_key(p) not in start]
        if missing:
            start.update(self._start_offsets(missing, start_after))
        share = max(1, max_records // max(1, len(partitions)))
        return StreamRange(start, {k: v + share for k, v in start.items()}, self.key, max_bytes)

    def _start_offsets(self, partitions: list[int], start_after: datetime | None) -> dict[str, int]:
        """Where never-committed partitions start: the first offset at or after T1 if the broker knows it;
        otherwise the beginning (the T1 filter then drops what the bootstrap already has)."""
        found: dict[str, int] = {}
        if start_after is not None:
            wanted = [TopicPartition(self.topic, p, int(start_after.timestamp() * 1000)) for p in partitions]
            try:
                for tp in self.consumer.offsets_for_times(wanted, timeout=self.request_timeout_s):
                    if tp.error is None and tp.offset >= 0:
                        found[self.partition_key(tp.partition)] = tp.offset
            except KafkaException:
                pass  # a broker without time look-ups: start at the beginning
        for p in partitions:
            found.setdefault(self.partition_key(p), self._beginning(p))
        return found

    def _beginning(self, partition: int) -> int:
        try:
            low, _ = self.consumer.get_watermark_offsets(TopicPartition(self.topic, partition),
                                                         timeout=self.request_timeout_s, cached=False)
            return max(0, low)
        except KafkaException:
            return 0

    def _assign(self, rng: StreamRange) -> dict[int, tuple[str, int, int]]:
        active = {}
        for key, first in rng.start.items():
            last = rng.end.get(key, first)
            if last > first:
                active[int(key.rsplit("/", 1)[1])] = (key, first, last)
        assignment = [TopicPartition(self.topic, p, first if first >= 0 else OFFSET_BEGINNING)
                      for p, (_, first, _) in active.items()]
        self.consumer.assign(assignment)
        return active

    def has_data(self, rng: StreamRange) -> bool:
        """A bounded look at the range's first offsets; nothing is committed anywhere."""
        active = self._assign(rng)
        try:
            if not active:
                return False
            for message in self.consumer.consume(num_messages=len(active), timeout=self.poll_timeout_s):
                self._check(message)
                p = message.partition()
                if p in active and active[p][1] <= message.offset() < active[p][2]:
                    return True
            return False
        finally:
            self.consumer.unassign()

    def read(self, rng: StreamRange) -> StreamRead:
        out = StreamRead(positions=dict(rng.start))
        active = self._assign(rng)
        budget = sum(last - first for _, first, last in active.values())
        deadline = time.monotonic() + max(60.0, self.poll_timeout_s * 10)  # a hard stop for a slow broker
        bounded = False
        try:
            while active and len(out.records) < budget and time.monotonic() < deadline:
                messages = self.consumer.consume(num_messages=min(CONSUME_CHUNK, budget - len(out.records)),
                                                 timeout=self.poll_timeout_s)
                if not messages:
                    # Caught up only if no partition stopped at its bound: that one may hold more.
                    out.caught_up = not bounded
                    break
                done: list[int] = []
                for message in messages:
                    self._check(message)
                    p, offset = message.partition(), message.offset()
                    if p not in active:
                        continue
                    key, first, last = active[p]
                    if offset < max(first, out.positions[key]) or offset >= last:
                        continue  # before the range (an earlier offset than asked) or past its bound
                    value = message.value() or b""
                    kind, stamp = message.timestamp()
                    out.records.append(StreamRecord(key, offset, offset + 1, value,
                                                    stamp if kind != 0 and stamp >= 0 else None))
                    out.bytes_read += len(value)
                    out.positions[key] = offset + 1
                    if offset + 1 >= last:
                        done.append(p)
                # Not paused: on tansu a partition paused and later assigned again returned nothing for
                # seconds. Records past the bound are dropped above; the next batch reads them.
                for p in done:
                    active.pop(p, None)
                    bounded = True
                if rng.max_bytes and out.bytes_read >= rng.max_bytes:
                    break
        finally:
            self.consumer.unassign()
        out.records.sort(key=lambda r: (r.partition, r.offset))
        return out

    @staticmethod
    def _check(message) -> None:
        error = message.error()
        if error is not None and error.code() != KafkaError._PARTITION_EOF:
            raise KafkaException(error)

    def append(self, records: list[dict[str, Any]], partition: str | None = None) -> int:
        if self._producer is None:
            self._producer = Producer({"bootstrap.servers": self.bootstrap_servers, "linger.ms": 5,
                                       "message.timeout.ms": int(self.request_timeout_s * 3000)})
        failures: list[str] = []

        def delivered(err, _msg) -> None:
            if err is not None:
                failures.append(str(err))

        target = int(partition.rsplit("/", 1)[-1]) if partition else None
        for record in records:
            stamp = int(datetime.fromisoformat(record["ts"]).timestamp() * 1000)
            kwargs = {"partition": target} if target is not None else {}
            while True:
                try:
                    self._producer.produce(self.topic, encode_record(record), key=str(record.get("source", "")),
                                           timestamp=stamp, on_delivery=delivered, **kwargs)
                    break
                except BufferError:  # the local queue is full: let it drain
                    self._producer.poll(0.1)
            self._producer.poll(0)
        left = self._producer.flush(self.request_timeout_s * 3)
        if left or failures:
            raise KafkaException(f"{left} records not delivered, {len(failures)} failed: {failures[:3]}")
        return len(records)

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        if self._producer is not None:
            self._producer.flush(self.request_timeout_s)
            self._producer = None
