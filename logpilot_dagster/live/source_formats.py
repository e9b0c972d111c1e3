"""Live records whose `message` is still a whole raw line: the format of their source, learned or applied.

A record's source is *unknown* when no entry of the sources registry has its name. When such a record's message
starts with a timestamp (it still carries its header: `2026-11-30 12:00:01 ERROR [db] ...`), the engine keeps
a sample of those messages (masked, like everything stored) under `registry/live_samples/` (a purge reaches them), and once there are
enough, infers a source entry from them exactly as for an unregistered landing file (rules, else the LLM;
validated on the sample) and writes it to `registry/proposed_sources.toml` with `live_header = true`.
`logpilot sources --accept NAME` (or LOGPILOT_AUTO_ACCEPT_SOURCES=1) moves it into the registry.

From then on, the live records of a source whose entry has `live_header = true` and a line format are split by
it: level, component and message come from the header when it matches; a record whose message does not match
is stored as it is. The record's own time (its `ts` field or the Kafka timestamp) stays the event time, since
positions and T1 are decided by it. Records stored before the entry was accepted stay as they were: nothing
is read twice.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from logpilot_dagster.ingest import discovery
from logpilot_dagster.ingest.formats import RegexFormat
from logpilot_dagster.ingest.sources import SOURCES_ENV, RegistryError, SourcesRegistry
from logpilot_dagster.store.layout import HomeLayout

LIVE_HEADER_OPTION = "live_header"
MIN_SAMPLE = 200  # lines of an unknown source before a format is inferred for it
MAX_SAMPLE = 1_000  # lines kept per unknown source
MAX_SAMPLE_LINE_CHARS = 4_000
PER_BATCH = MAX_SAMPLE  # lines a decoded batch hands over per unknown source
# A full sample that gave no format is tried again this long after its last try: the LLM may be back from an
# outage, or configured since. (The sample file's modification time is the time of the last try.)
RETRY_AFTER_S = 900


def carries_header(message: str) -> bool:
    """Whether a message starts like a raw log line: with one of the timestamp shapes discovery reads."""
    return discovery.starts_with_time(message)


@dataclass(frozen=True)
class Inferred:
    source: str
    proposed: bool
    accepted: bool
    reason: str = ""


class LiveSourceFormats:
    """The sources registry as live decoding sees it, reloaded when its file changes."""

    def __init__(self, layout: HomeLayout) -> None:
        self.layout = layout
        self.sources_file = Path(os.environ[SOURCES_ENV]) if os.environ.get(SOURCES_ENV) else layout.sources_file
        self._stamp: tuple | None = None
        self.known: frozenset[str] = frozenset()
        self.header_formats: dict[str, RegexFormat] = {}
        self.refresh()

    def _file_stamp(self) -> tuple:
        try:
            stat = self.sources_file.stat()
            return (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            return ()

    def refresh(self) -> None:
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            registry = SourcesRegistry.load(home_file=self.layout.sources_file)
        except RegistryError:
            registry = SourcesRegistry.default()  # a broken home registry is reported by the bootstrap
        self.known = frozenset(spec.name for spec in registry.sources)
        self.header_formats = {spec.name: spec.log_format for spec in registry.sources
                               if spec.options.get(LIVE_HEADER_OPTION) and isinstance(spec.log_format, RegexFormat)}

    # --- learning -------------------------------------------------------------------------------------

    def sample_file(self, source: str) -> Path:
        return self.layout.live_samples / f"{_file_name(source)}.json"

    def observe(self, samples: dict[str, list[str]], llm_client=None) -> list[Inferred]:
        """Keep the batch's header-carrying messages of unknown sources; infer a format for each source whose
        sample is large enough and has no proposal yet."""
        results = []
        proposed = {p.name for p in discovery.read_proposals(self.layout.proposed_sources)}
        for source, lines in samples.items():
            if source in self.known or source in proposed:
                continue
            path = self.sample_file(source)
            held = _read_sample(path)
            added = [line[:MAX_SAMPLE_LINE_CHARS] for line in lines if "\n" not in line][:MAX_SAMPLE - len(held)]
            if not added:
                if len(held) >= MIN_SAMPLE and _last_try_before(path, RETRY_AFTER_S):
                    os.utime(path)  # this try
                    results.append(self._infer(source, held, llm_client))
                continue
            held += added
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written in place (no temporary file a crash could leave for a purge to miss); a torn sample
            # is started again.
            path.write_text(json.dumps(held), encoding="utf-8")
            if len(held) >= MIN_SAMPLE:
                results.append(self._infer(source, held, llm_client))
        return results

    def _infer(self, source: str, lines: list[str], llm_client) -> Inferred:
        found = discovery.infer(source, f"live/{_file_name(source)}", lines, llm_client)
        if isinstance(found, str):
            return Inferred(source, False, False, found)
        if found.format in ("jsonl", "csv"):
            return Inferred(source, False, False, f"a {found.format} message is not a header the live path splits")
        found.options[LIVE_HEADER_OPTION] = True
        found.evidence["inferred_from"] = "live records"
        discovery.merge_proposals(self.layout.proposed_sources, [found])
        if discovery.auto_accepts(found):
            discovery.accept(self.layout.proposed_sources, self.sources_file, source)
            self.refresh()
            return Inferred(source, True, True)
        return Inferred(source, True, False)


def _last_try_before(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime >= seconds
    except FileNotFoundError:
        return False


def _read_sample(path: Path) -> list[str]:
    try:
        held = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return []
    return [line for line in held if isinstance(line, str)] if isinstance(held, list) else []


def _file_name(source: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in source)[:100] or "_"
