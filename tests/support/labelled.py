"""Small labelled log data and a fast stand-in embedder, so classification tests run in milliseconds."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence

import numpy as np
import pandas as pd

# Templates per label, in the style of the generator's output; {n} is a number, {w} a word, {ip} an address.
TEMPLATES: dict[str, list[str]] = {
    "HTTP Status": [
        'nova.osapi_compute.wsgi.server GET /v2/{w}/servers/detail HTTP/1.1 status: {n} len: {n} time: 0.{n}',
        "HTTP request to /api/{w} returned status {n} in {n} ms",
    ],
    "Critical Error": [
        "Kernel panic: unable to mount root fs on unknown-block({n},{n})",
        "Critical failure: RAID array degraded on node {w}, disk {n} offline",
    ],
    "Security Alert": [
        "Multiple failed login attempts detected for user {w} from {ip}",
        "Suspicious privilege escalation attempt by user {w} on host {w}",
    ],
    "Error": [
        "Failed to connect to database {w} after {n} retries",
        "Exception while processing request {n}: NullPointerException",
    ],
    "System Notification": [
        "Scheduled maintenance window starts at {n}:{n} UTC",
        "Service {w} restarted successfully on node {n}",
    ],
    "Resource Usage": [
        "CPU usage at {n}% on host {w}",
        "Memory usage exceeded {n} MB for process {n}",
    ],
    "User Action": [
        "User {w} updated profile settings",
        "User {w} downloaded report {n}",
    ],
    "Workflow Error": [
        "Escalation rule execution failed for ticket ID {n} - undefined escalation level",
        "Case escalation for ticket ID {n} failed because the assigned support agent is no longer active",
    ],
    "Deprecation Warning": [
        "API endpoint /v1/{w} will be retired in version {n}, migrate to /v2/{w}",
        "Support for legacy config option {w} ends with release {n}",
    ],
}
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]


def fill(template: str, rng: random.Random) -> str:
    out = template
    while "{" in out:
        start = out.index("{")
        end = out.index("}", start)
        slot = out[start + 1:end]
        value = {"n": str(rng.randint(1, 9999)), "w": rng.choice(WORDS),
                 "ip": ".".join(str(rng.randint(1, 254)) for _ in range(4))}[slot]
        out = out[:start] + value + out[end + 1:]
    return out


def labelled_lines(per_template: int = 5, seed: int = 0, source: str = "app",
                   labels: Sequence[str] | None = None) -> pd.DataFrame:
    """A labelled frame with columns source, log_message, target_label."""
    rng = random.Random(seed)
    rows = []
    for label, templates in TEMPLATES.items():
        if labels is not None and label not in labels:
            continue
        for template in templates:
            for _ in range(per_template):
                rows.append((source, fill(template, rng), label))
    return pd.DataFrame(rows, columns=["source", "log_message", "target_label"])


class HashingEmbedder:
    """Bag of words hashed into a fixed number of dimensions, normalised: deterministic and instant."""

    name = "hashing-test-embedder"

    def __init__(self, dims: int = 256):
        self.dims = dims
        self.calls = 0
        self.texts = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts += len(texts)
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in text.lower().split():
                out[row, int(hashlib.md5(token.encode()).hexdigest(), 16) % self.dims] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)
