"""Sample records for the stream, so a person (or a test, or the benchmark) can watch the cutover.

Messages come from the sample generator's templates, so the pre-warmed miner knows most of them.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from logpilot_dagster.samples.sources import SOURCES


def sample_records(n: int, seed: int = 7, start: datetime | None = None,
                   step: timedelta = timedelta(milliseconds=1), pii_share: float = 0.05) -> Iterator[dict[str, Any]]:
    """`n` records `{"ts", "source", "message", "level"}`, `step` apart from `start` (default: now)."""
    rng = random.Random(seed)
    sources = [s for s in SOURCES if s.templates]
    weights = [s.weight for s in sources]
    ts = start or datetime.now(UTC)
    for _ in range(n):
        source = rng.choices(sources, weights)[0]
        tpl = rng.choices(source.templates, [t.weight for t in source.templates])[0]
        message, _ = tpl.render(rng, pii=rng.random() < pii_share)
        yield {"ts": ts.isoformat(timespec="milliseconds"), "source": source.record_source(tpl),
               "message": message, "level": tpl.level}
        ts += step
