"""A deterministic, realistic sample landing zone: the platform's embedded default data.

`generate_sample` writes seven sources (see `sources.py`) over `days` days ending at `end`, with office-hour
rhythms, weekly and growth trends, incident bursts, personal data in about 5% of the records, and about
0.5% bad input of every kind the staging step quarantines. Next to the landing folder it writes the ground
truth (one row per record or bad line: template, label, personal data, quarantine reason) and the system
catalog. The same seed gives byte-identical files; files are written as they are generated, so memory stays
flat however many lines are asked for.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import random
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO

from logpilot_dagster.samples import catalog
from logpilot_dagster.samples.runbooks import write_runbooks
from logpilot_dagster.samples.sources import (
    EMPTY_FILE,
    NO_SOURCE,
    SOURCES,
    TRUNCATED_GZIP,
    Day,
    SampleSource,
)
from logpilot_dagster.samples.templates import DEFAULT_LABELS, Template

__all__ = ["DEFAULT_LABELS", "SampleManifest", "generate_sample"]

DEFAULT_END = datetime(2026, 11, 1, tzinfo=UTC)
DEFAULT_DAYS = 420
MIN_LINES = 500
PII_SHARE = 0.05
BAD_SHARE = 0.005
EMPTY_FILE_NAME = "nova/nova-compute.log.2026-02-01"
NO_SOURCE_FILE_NAME = "misc/notes.txt"
TRUTH_FILE = "ground_truth.csv.gz"
MANIFEST_FILE = "manifest.json"
TRUTH_COLUMNS = ("file", "line", "n_lines", "source", "template_id", "template", "label", "pii", "bad_reason")

_DAY_MS = 86_400_000
_HOUR_MS = 3_600_000
# Relative volume per hour of the day for sources used by people; machine sources flatten it.
_OFFICE_HOURS = (0.25, 0.2, 0.18, 0.18, 0.2, 0.3, 0.5, 0.8, 1.1, 1.3, 1.4, 1.4, 1.25, 1.35, 1.45, 1.4, 1.3,
                 1.1, 0.9, 0.7, 0.55, 0.45, 0.35, 0.3)
_MACHINE_HOURS = tuple(0.6 + 0.4 * w for w in _OFFICE_HOURS)
_NOTES = (  # misc/notes.txt: an operator's scratch file that no source claims
    ("TODO: ask it-ops why syslog from db-07 stopped on the 12th", ""),
    ("gateway vendor contact: support@globex-pay.com (escalations only)", "email"),
    ("remember: rotate nova logs after the 2026.2 upgrade, keep 30 days", ""),
    ("crm export now runs at 02:15 instead of 01:00 since v3.9.1", ""),
    ("blocked 185.220.101.7 at the edge firewall, see ticket 48213", "ip"),
    ("", ""),
    ("- billing heap bumped to 8192MB", ""),
)


@dataclass
class SampleManifest:
    """What a generated sample holds. Bad entries are counted per quarantine reason: one per bad line, and
    one for the empty file and one for the truncated gzip (which have no lines of their own)."""

    seed: int
    requested_lines: int
    start: str
    end: str
    days: int
    files: int = 0
    gzip_files: int = 0
    lines: int = 0  # physical lines that can be read, CSV header rows included
    csv_header_lines: int = 0
    records: int = 0  # good records (a stack trace or a quoted newline makes one record of several lines)
    pii_lines: int = 0  # records and bad lines that hold personal data
    files_by_source: dict[str, int] = field(default_factory=dict)
    lines_by_source: dict[str, int] = field(default_factory=dict)
    records_by_source: dict[str, int] = field(default_factory=dict)
    records_by_label: dict[str, int] = field(default_factory=dict)
    pii_by_kind: dict[str, int] = field(default_factory=dict)
    bad_lines_by_reason: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def generate_sample(out: Path, lines: int = 200_000, seed: int = 7, truth_dir: Path | None = None,
                    catalog_path: Path | None = None, end: datetime = DEFAULT_END,
                    days: int = DEFAULT_DAYS) -> SampleManifest:
    """Write a sample landing zone to `out` (which must be empty), its ground truth to `truth_dir`
    (default `out.parent/sample_truth`) and the system catalog to `catalog_path`
    (default `out.parent/system_catalog.csv`)."""
    out = Path(out)
    if lines < MIN_LINES:
        raise ValueError(f"a sample needs at least {MIN_LINES} lines, got {lines}")
    if days < 1:
        raise ValueError(f"a sample needs at least one day, got {days}")
    if out.is_dir() and any(not p.name.startswith(".") for p in out.iterdir()):
        raise FileExistsError(f"{out} is not empty; generate the sample into an empty folder")
    truth_dir = Path(truth_dir) if truth_dir is not None else out.parent / "sample_truth"
    catalog_path = Path(catalog_path) if catalog_path is not None else out.parent / "system_catalog.csv"
    end = end if end.tzinfo else end.replace(tzinfo=UTC)
    start = end - timedelta(days=days)
    out.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)

    manifest = SampleManifest(seed=seed, requested_lines=lines, start=start.isoformat(), end=end.isoformat(),
                              days=days)
    calendar = _calendar(start, end)
    master = random.Random(seed)
    source_seeds = [master.getrandbits(64) for _ in SOURCES]
    with _TruthWriter(truth_dir / TRUTH_FILE, manifest) as truth:
        for source, source_seed in zip(SOURCES, source_seeds, strict=True):
            _SourceRun(source, random.Random(source_seed), out, calendar, round(lines * source.weight),
                       truth, manifest).run()
        _write_empty_file(out, truth, manifest)
        _write_no_source_file(out, truth, manifest)
    (truth_dir / MANIFEST_FILE).write_text(manifest.to_json() + "\n", encoding="utf-8")
    write_system_catalog(catalog_path)
    write_runbooks(out.parent / "runbooks")  # the home's runbooks/ (HomeLayout.runbooks) for the runbook index
    return manifest


def write_system_catalog(path: Path) -> None:
    """`system_name,department,owner_email,criticality` for every sample source and CRM-export system."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("system_name", "department", "owner_email", "criticality"))
        writer.writerows(catalog.SYSTEM_CATALOG)


# --- the calendar ---------------------------------------------------------------------------------------


def _calendar(start: datetime, end: datetime) -> list[Day]:
    """Every calendar day (UTC) that overlaps [start, end), with the overlapping part in ms."""
    result: list[Day] = []
    current = start.date()
    while True:
        midnight = datetime(current.year, current.month, current.day, tzinfo=UTC)
        if midnight >= end:
            return result
        lo = max(start, midnight) - midnight
        hi = min(end, midnight + timedelta(days=1)) - midnight
        ms = timedelta(milliseconds=1)
        result.append(Day(len(result), current, lo // ms, hi // ms, current.isoformat()))
        current += timedelta(days=1)


# --- writing files --------------------------------------------------------------------------------------

Row = tuple[str, int, int, str, str, str, str, str, str]


class _TruthWriter:
    """`ground_truth.csv.gz`, one row per record or bad line; keeps the manifest's counts as rows arrive."""

    def __init__(self, path: Path, manifest: SampleManifest) -> None:
        self.path, self.manifest = path, manifest

    def __enter__(self) -> _TruthWriter:
        self._raw = self.path.open("wb")
        self._gz = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=6)
        self._text = io.TextIOWrapper(self._gz, encoding="utf-8", newline="")
        self._csv = csv.writer(self._text, lineterminator="\n")
        self._csv.writerow(TRUTH_COLUMNS)
        self._lines: Counter[str] = Counter()
        self._records: Counter[str] = Counter()
        self._labels: Counter[str] = Counter()
        self._pii: Counter[str] = Counter()
        self._bad: Counter[str] = Counter()
        return self

    def add(self, rows: list[Row], registry_source: str | None) -> None:
        self._csv.writerows(rows)
        lines = records = pii_lines = 0
        for row in rows:
            lines += row[2]
            if row[7]:
                pii_lines += 1
                self._pii.update(row[7].split(","))
            if row[8]:
                self._bad[row[8]] += 1
            else:
                records += 1
                self._labels[row[6]] += 1
        manifest = self.manifest
        manifest.lines += lines
        manifest.records += records
        manifest.pii_lines += pii_lines
        if registry_source is not None:
            self._lines[registry_source] += lines
            self._records[registry_source] += records

    def header_line(self, registry_source: str) -> None:
        """A CSV header row: a physical line, but no record."""
        self.manifest.csv_header_lines += 1
        self.manifest.lines += 1
        self._lines[registry_source] += 1

    def __exit__(self, *exc: object) -> None:
        self._text.close()
        self._raw.close()
        manifest = self.manifest
        manifest.lines_by_source = dict(self._lines)
        manifest.records_by_source = dict(self._records)
        manifest.records_by_label = {label: self._labels[label] for label in DEFAULT_LABELS}
        manifest.pii_by_kind = dict(sorted(self._pii.items()))
        manifest.bad_lines_by_reason = dict(sorted(self._bad.items()))


class _LandingFile:
    """One landing file being written: bytes go out in chunks, ground-truth rows follow the file."""

    def __init__(self, out: Path, name: str, compressed: bool, source: SampleSource, truth: _TruthWriter,
                 manifest: SampleManifest, truncate: bool = False) -> None:
        self.name = name + (".gz" if compressed else "")
        self.path = out / self.name
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._raw = self.path.open("wb")
        self._stream: BinaryIO | gzip.GzipFile = self._raw
        if compressed:  # mtime=0 and no file name in the header: the same bytes on every run
            self._stream = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=6)
        self.source, self.truth, self.manifest = source, truth, manifest
        self.truncate = truncate
        self.line = 0  # physical lines written so far
        self._chunks: list[bytes] = []
        self._rows: list[Row] = []
        manifest.files += 1
        manifest.gzip_files += compressed
        manifest.files_by_source[source.name] = manifest.files_by_source.get(source.name, 0) + 1
        if source.header_row is not None:
            self._chunks.append((source.header_row + source.terminator).encode("utf-8"))
            self.line += 1
            truth.header_line(source.name)

    def record(self, data: bytes, n_lines: int, source: str, tpl: Template | None, pii: str,
               bad_reason: str = "") -> None:
        self._chunks.append(data)
        self._rows.append((self.name, self.line + 1, n_lines, source, tpl.template_id if tpl else "",
                           tpl.truth if tpl else "", tpl.label if tpl else "", pii, bad_reason))
        self.line += n_lines

    def flush(self) -> None:
        if self._chunks:
            self._stream.write(b"".join(self._chunks))
            self._chunks.clear()
        if not self.truncate and len(self._rows) >= 5000:
            self.truth.add(self._rows, self.source.name)
            self._rows.clear()

    def close(self) -> None:
        self.flush()
        self._stream.close()
        self._raw.close()
        if self.truncate:
            self._cut_in_half()
        self.truth.add(self._rows, self.source.name)
        self._rows.clear()

    def _cut_in_half(self) -> None:
        """Cut the compressed stream in the middle; only lines decompressed in full survive."""
        size = self.path.stat().st_size
        os.truncate(self.path, size // 2)
        readable = zlib.decompressobj(wbits=31).decompress(self.path.read_bytes())
        kept = readable.count(b"\n")
        self._rows = [row for row in self._rows if row[1] + row[2] - 1 <= kept]
        self._rows.append((self.name, kept + 1, 0, self.source.name, "", "", "", "", TRUNCATED_GZIP))


# --- one source -----------------------------------------------------------------------------------------


class _SourceRun:
    """Writes one source's files day by day: volume plan, timestamps, templates, personal data, bad lines."""

    def __init__(self, source: SampleSource, rng: random.Random, out: Path, calendar: list[Day], budget: int,
                 truth: _TruthWriter, manifest: SampleManifest) -> None:
        self.source, self.rng, self.out, self.calendar = source, rng, out, calendar
        self.budget, self.truth, self.manifest = budget, truth, manifest
        templates = source.templates
        self.cum_weights = list(accumulate(x.weight for x in templates))
        self.pii_templates = [x for x in templates if x.can_hold_pii]
        self.pii_cum_weights = list(accumulate(x.weight for x in self.pii_templates))
        self.incident_templates = [x for x in templates if x.incident]
        self.hour_cum_weights = list(accumulate(_OFFICE_HOURS if source.business_hours else _MACHINE_HOURS))
        self.lines_per_record = source.expected_lines_per_record()
        self.file: _LandingFile | None = None
        self.file_key = ""
        n = len(calendar)
        at = source.truncated_file_at
        self.truncate_from = int(n * at) if at is not None else None
        self.truncated_day: int | None = None
        self.force_from = int(n * source.forced_at)
        self.forced = not source.forces_bad_input

    def run(self) -> None:
        targets = self._daily_targets()
        written = planned = previous_target = 0
        last = len(self.calendar) - 1
        for day, target in zip(self.calendar, targets, strict=True):
            if self.source.file_name(day.day) == EMPTY_FILE_NAME:
                continue  # that day's file exists but is empty (see `_write_empty_file`)
            # Repay lines written beyond the plan (stack-trace storms) slowly, so no day goes silent.
            own = target - previous_target
            previous_target = target
            n = max(0, round(max(target - written, 0.4 * own) / self.lines_per_record))
            force = not self.forced and day.index >= self.force_from and (n > 0 or day.index == last)
            if force and self.truncate_from is not None and day.index != last and (
                    self.truncated_day is None or day.index <= self.truncated_day):
                force = False  # the truncated gzip must not swallow the forced bad line
            if n == 0 and not force:
                continue
            self._open(day, n, force)
            assert self.file is not None
            before = self.file.line
            self._write_day(day, n, force)
            written += self.file.line - before
            planned += n
            if planned >= 50:  # learn how many lines a record takes (stack traces, quoted newlines)
                self.lines_per_record = max(1.0, written / planned)
            self.file.flush()
        if self.file is not None:
            self.file.close()

    def _daily_targets(self) -> list[int]:
        """Cumulative line targets per day: growth over the period, weekends, noise, a few quiet days."""
        rng, n = self.rng, len(self.calendar)
        weights = []
        for day in self.calendar:
            w = (0.6 + 0.8 * day.index / max(1, n - 1)) * (day.end_ms - day.start_ms) / _DAY_MS
            if day.day.weekday() >= 5:
                w *= self.source.weekend_factor
            w *= rng.lognormvariate(0, 0.35)
            if rng.random() < 0.01:
                w *= 0.05  # an outage of the shipper: almost nothing arrived that day
            weights.append(w)
        total = sum(weights)
        return [round(self.budget * c / total) for c in accumulate(weights)]

    def _open(self, day: Day, n: int, force: bool) -> None:
        source = self.source
        key = source.file_name(day.day)
        if key == self.file_key:
            return
        if self.file is not None:
            self.file.close()
        truncate = (self.truncate_from is not None and self.truncated_day is None
                    and day.index >= self.truncate_from and n > 0 and not force)
        if truncate:
            self.truncated_day = day.index
        compressed = truncate or self.rng.random() < source.gzip_share
        self.file = _LandingFile(self.out, key, compressed, source, self.truth, self.manifest, truncate)
        self.file_key = key
        source.start_file(self.rng)

    def _times_and_templates(self, day: Day, n: int) -> list[tuple[int, Template]]:
        rng = self.rng
        lo, hi = day.start_ms, day.end_ms
        incident = 0
        if n >= 6 and self.incident_templates and rng.random() < 0.08:
            incident = max(3, int(n * rng.uniform(0.15, 0.45)))
        normal = n - incident
        if lo == 0 and hi == _DAY_MS:
            hours = rng.choices(range(24), cum_weights=self.hour_cum_weights, k=normal)
            times = [h * _HOUR_MS + int(rng.random() * _HOUR_MS) for h in hours]
        else:
            times = [lo + int(rng.random() * (hi - lo)) for _ in range(normal)]
        items = list(zip(times, rng.choices(self.source.templates, cum_weights=self.cum_weights, k=normal),
                         strict=True))
        if incident:
            # An incident: one or two kinds of error, over and over, within minutes.
            kinds = rng.choices(self.incident_templates, [x.weight for x in self.incident_templates],
                                k=rng.randint(1, 2))
            span = min(hi - lo, int(rng.uniform(120_000, 2_400_000)))
            t0 = lo + int(rng.random() * (hi - lo - span))
            items += [(t0 + int(rng.random() * span), rng.choice(kinds)) for _ in range(incident)]
        items.sort(key=itemgetter(0))
        return items

    def _write_day(self, day: Day, n: int, force: bool) -> None:
        source, rng, file = self.source, self.rng, self.file
        assert file is not None
        items = self._times_and_templates(day, n)
        if force:
            self.forced = True
            self._forced_extras(day, items[0][0] if items else day.start_ms)
        rand = rng.random
        terminator = source.terminator
        for position, (ms, tpl) in enumerate(items):
            pii = rand() < PII_SHARE
            if pii and not tpl.can_hold_pii:
                tpl = rng.choices(self.pii_templates, cum_weights=self.pii_cum_weights)[0]
            message, kinds = tpl.render(rng, pii)
            text = source.format(day, ms, tpl, message, rng)
            pii_text = ",".join(kinds)
            bad_kind = source.forced_bad if force and position == 0 else (
                rng.choice(source.bad_kinds) if rand() < BAD_SHARE else None)
            if bad_kind is not None:
                head, _, rest = text.partition("\n")
                if rest and not source.continuation_lines:
                    bad_kind = None  # a quoted multi-line CSV record stays whole
                else:
                    self._bad_line(head, tpl, pii_text, bad_kind)
                    continue
            file.record((text + terminator).encode("utf-8"), text.count("\n") + 1, source.record_source(tpl),
                        tpl, pii_text)

    def _forced_extras(self, day: Day, ms: int) -> None:
        """Bad input that must be present in every sample, however small."""
        file, source = self.file, self.source
        assert file is not None
        for line, reason in source.forced_lines(day, max(day.start_ms, ms - 1), self.rng, file.line == 0):
            file.record((line + source.terminator).encode("utf-8"), 1, source.name, None, "", reason)

    def _bad_line(self, line: str, tpl: Template, pii: str, kind: str) -> None:
        file, source = self.file, self.source
        assert file is not None
        end = source.terminator.encode("ascii")
        for data, derived in source.bad_lines(kind, line, self.rng):
            file.record(data + end, 1, source.name, tpl if derived else None, pii if derived else "", kind)


# --- the special files ----------------------------------------------------------------------------------


def _write_empty_file(out: Path, truth: _TruthWriter, manifest: SampleManifest) -> None:
    path = out / EMPTY_FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    manifest.files += 1
    manifest.files_by_source["nova"] = manifest.files_by_source.get("nova", 0) + 1
    truth.add([(EMPTY_FILE_NAME, 0, 0, "nova", "", "", "", "", EMPTY_FILE)], "nova")


def _write_no_source_file(out: Path, truth: _TruthWriter, manifest: SampleManifest) -> None:
    path = out / NO_SOURCE_FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line, _ in _NOTES), encoding="utf-8")
    manifest.files += 1
    truth.add([(NO_SOURCE_FILE_NAME, i, 1, "", "", "", "", pii, NO_SOURCE)
               for i, (_, pii) in enumerate(_NOTES, start=1)], None)
