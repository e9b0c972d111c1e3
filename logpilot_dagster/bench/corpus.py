"""The throughput benchmark's corpus: the sample generator's landing zone plus Loghub-derived lines.

Loghub lines get their variables re-drawn (each parameter's digits and hex letters replaced at random,
keeping the shape), so a large corpus is not 2,000 lines repeated verbatim and the miner's caches see
what a real stream gives them: the same events with ever-new values.
"""

from __future__ import annotations

import csv
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

LOGHUB_SOURCE_TOML = """
[[source]]
name = "loghub"
path = "loghub/*.log*"
format = "regex"
pattern = '^(?P<ts>\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}) (?P<component>\\S+) (?P<message>.*)$'
"""
LINES_PER_FILE = 100_000
_DIGIT = re.compile(r"\d")
_HEX = re.compile(r"(?<![G-Zg-z])[a-f](?![g-z])")


@dataclass(frozen=True)
class Corpus:
    landing: Path
    sample_lines: int
    loghub_lines: int

    @property
    def lines(self) -> int:
        return self.sample_lines + self.loghub_lines


def bench_sources_toml() -> str:
    """The default sources registry plus the Loghub-derived folder."""
    from logpilot_dagster.ingest.sources import default_sources_text

    return default_sources_text() + LOGHUB_SOURCE_TOML


def build_corpus(landing: Path, lines: int, seed: int = 7, loghub: Path | None = None,
                 loghub_share: float = 0.5) -> Corpus:
    """Write about `lines` physical lines under `landing`: generated sources plus re-drawn Loghub lines."""
    from logpilot_dagster.samples.generator import generate_sample

    events = _loghub_events(loghub) if loghub else []
    loghub_lines = int(lines * loghub_share) if events else 0
    generate_sample(landing, lines=lines - loghub_lines, seed=seed,
                    truth_dir=landing.parent / "sample_truth", catalog_path=landing.parent / "system_catalog.csv")
    if loghub_lines:
        _write_loghub(landing / "loghub", events, loghub_lines, random.Random(seed))
    return Corpus(landing, lines - loghub_lines, loghub_lines)


def _loghub_events(folder: Path) -> list[tuple[str, str, list[tuple[int, int]]]]:
    """(dataset, content, spans of its parameters) for every structured line of every dataset."""
    events = []
    for structured in sorted(folder.glob("*/*_structured*.csv")):
        dataset = structured.parent.name
        with structured.open(newline="", encoding="utf-8", errors="replace") as handle:
            for row in csv.DictReader(handle):
                content, template = row.get("Content") or "", row.get("EventTemplate") or ""
                if content:
                    events.append((dataset, content, _param_spans(content, template)))
    return events


def _param_spans(content: str, template: str) -> list[tuple[int, int]]:
    """Where the template's `<*>` fall in the content; the whole line when the template does not align."""
    from logpilot_dagster.mining.template_text import template_regex

    try:
        m = re.match(template_regex(template), content, re.DOTALL)
    except re.error:
        m = None
    if m is None:
        return [(0, len(content))]
    return [m.span(i) for i in range(1, (m.lastindex or 0) + 1)]


def _redraw(content: str, spans: list[tuple[int, int]], rng: random.Random) -> str:
    pieces, last = [], 0
    for start, end in spans:
        value = content[start:end]
        value = _DIGIT.sub(lambda _: str(rng.randrange(10)), value)
        value = _HEX.sub(lambda _: "abcdef"[rng.randrange(6)], value)
        pieces.append(content[last:start] + value)
        last = end
    pieces.append(content[last:])
    return "".join(pieces)


def _write_loghub(folder: Path, events: list, n_lines: int, rng: random.Random) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    ts = datetime(2026, 1, 1, tzinfo=UTC)
    written, file_no = 0, 0
    while written < n_lines:
        chunk = min(LINES_PER_FILE, n_lines - written)
        with (folder / f"loghub-{file_no:04d}.log").open("w", encoding="utf-8") as out:
            for _ in range(chunk):
                dataset, content, spans = events[rng.randrange(len(events))]
                ts += timedelta(milliseconds=rng.randrange(50, 500))
                line = _redraw(content, spans, rng).replace("\n", " ").replace("\r", " ")
                out.write(f"{ts:%Y-%m-%d %H:%M:%S} {dataset} {line}\n")
        written += chunk
        file_no += 1
