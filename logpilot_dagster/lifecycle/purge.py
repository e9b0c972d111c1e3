"""Right to be forgotten: remove every copy of a subject (a user name, a customer id, an account) from every
sink of the store — the tiers, the quarantine, template examples, the miner's state, caches, the training set,
reports — and record the request in `purge_audit` with a salted hash of the subject, never the subject. The
lines removed are counted per landing file for the conservation check (`store.purged`), wherever the purge
finds them: in the warehouse, or in the Parquet copies of files a bootstrap has not loaded yet.

Landing files are the user's own input: they are listed, and rewritten only when asked (`include_landing`).
Dagster's event log never holds row-level text (asset metadata carries counts and templates), so nothing in
it needs editing.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from logpilot_dagster.ingest.reader import open_landing_file
from logpilot_dagster.store import purge_guard, sinks, tables
from logpilot_dagster.store.layout import HomeLayout
from logpilot_dagster.store.locks import Busy, file_lock
from logpilot_dagster.store.versions import write_json

if TYPE_CHECKING:
    import duckdb

# How long a purge waits for the miner's owners (a bootstrap's mining can hold them for minutes) before it
# gives up with `Busy`; a request file then stays pending and is tried again.
PURGE_WAIT_S = 120.0
# Sinks whose counts are rows (for purge_audit.rows_deleted) and vectors.
ROW_SINKS = ("logs", "warm", "cold", "quarantine")
VECTOR_SINKS = ("vector_index", "embedding_cache")


class PurgeIncomplete(Busy):
    """Something stayed held after the purge had begun editing: what it removed stays removed, and running the
    request again finishes it (the rest, the rewrite of the DuckDB file, the audit), with the counts of every
    run (`_Progress`)."""


@dataclass
class PurgeReport:
    request_id: str
    subject_hash: str
    per_sink: dict[str, int] = field(default_factory=dict)
    lines_purged: int = 0
    landing_files: list[str] = field(default_factory=list)  # landing files that mention the subject
    landing_rewritten: list[str] = field(default_factory=list)
    seconds: float = 0.0
    left: dict[str, int] = field(default_factory=dict)  # after `verify`: copies still found, per sink

    @property
    def verified(self) -> bool:
        return not any(self.left.values())


def subject_hash(layout: HomeLayout, subject: str) -> str:
    """A salted hash: the audit proves a request was executed without keeping who it was about."""
    layout.registry.mkdir(parents=True, exist_ok=True)
    if not layout.purge_salt.exists():
        layout.purge_salt.write_text(secrets.token_hex(16), encoding="utf-8")
    salt = layout.purge_salt.read_text(encoding="utf-8").strip()
    return hashlib.sha256(f"{salt}\x00{subject}".encode()).hexdigest()


def purge(layout: HomeLayout, subject: str, include_landing: bool = False, verify: bool = False,
          request_id: str | None = None, wait_s: float | None = None) -> PurgeReport:
    """`Busy` when another purge, or the miner's state, stays held for `wait_s` (default `PURGE_WAIT_S`): nothing
    is edited then. A purge of the subject that stopped part-way, or was killed, is resumed: its request id and
    counts carry on (`_Progress`)."""
    subject = subject.strip()
    sinks.subject_pattern(subject)  # refuses an empty subject before anything is touched
    wait = PURGE_WAIT_S if wait_s is None else wait_s
    # Marked at the start and the end: a live batch read before the end is not stored (see `purge_guard`).
    with file_lock(layout.purge_lock, wait, "another purge"):
        progress = _Progress.resume(layout, subject_hash(layout, subject), request_id)
        report = progress.report
        progress.save(layout)  # before anything is edited: a run killed from here on is resumed by the next
        purge_guard.mark(layout)
        try:
            _purge(layout, subject, report, include_landing, wait, progress)
        except PurgeIncomplete:
            progress.save(layout)
            raise
        except Busy:  # nothing was edited in this run
            if not progress.resumed:
                progress.forget(layout)
            raise
        finally:
            purge_guard.mark(layout)
        report.seconds = progress.seconds()
        report.lines_purged = sum(progress.copies.values())
        # Recorded once anything was removed, in a warehouse made for it if need be (copies not loaded yet).
        if layout.duckdb.exists() or report.lines_purged or any(report.per_sink.values()):
            try:
                with _incomplete_if_busy(f"purge {report.request_id} is done but not recorded in purge_audit"), \
                        tables.connect(layout.duckdb) as con:
                    _count_from_ledger(con, progress)
                    tables.record_purge(
                        con, report.request_id, report.subject_hash,
                        rows=sum(report.per_sink.get(s, 0) for s in ROW_SINKS),
                        vectors=sum(report.per_sink.get(s, 0) for s in VECTOR_SINKS),
                        files=len(report.landing_rewritten), lines=report.lines_purged, per_sink=report.per_sink,
                        seconds=report.seconds)
            except PurgeIncomplete:
                progress.save(layout)
                raise
        progress.forget(layout)
    if verify:
        report.left = sinks.find_everywhere(layout, subject)
    return report


def _purge(layout: HomeLayout, subject: str, report: PurgeReport, include_landing: bool, wait_s: float,
           progress: _Progress) -> None:
    """Every sink, then the file rewrite and the landing files; the report's counts grow as each step is done
    (they start from the earlier runs' when resumed), saved after each."""
    purging = sinks.Purging(report.request_id, progress.copies)

    def run(group: list[sinks.Sink]) -> None:
        for sink in group:
            before = report.per_sink.get(sink.name, 0)  # the earlier runs'

            def saved(rows: int, name: str = sink.name, before: int = before) -> None:  # a copy sink's file done
                report.per_sink[name] = report.per_sink.get(name, before) + rows
                progress.save(layout)

            purging.saved = saved
            try:
                deleted = sink.delete(layout, subject, purging)
            except sinks.SinkStopped as stopped:  # what it deleted before it stopped counts too
                report.per_sink[sink.name] = before + stopped.done
                raise
            report.per_sink[sink.name] = before + deleted
            progress.save(layout)

    # The miner's owners (the bootstrap's mining, the live writer) save its state under this lock: held, none
    # of them can save a state read before the purge over the purged one.
    with file_lock(layout.miner_lock, wait_s, "the miner's state"):
        try:
            # The landing files' copies while no bootstrap step reads or writes them, then the rest.
            with file_lock(layout.copies_lock, wait_s, "the bootstrap's stage, parse or load"):
                run([s for s in sinks.SINKS if s.name in sinks.COPY_SINKS])
            run([s for s in sinks.SINKS if s.name not in sinks.COPY_SINKS])
            if layout.duckdb.exists():
                # Deleted rows stay in DuckDB's free blocks until overwritten: rewrite the file so none of the
                # subject's bytes remain on disk.
                tables.rewrite_database(layout.duckdb)
        except Busy as busy:
            raise PurgeIncomplete(f"purge {report.request_id} stopped part-way (done: "
                                  f"{', '.join(report.per_sink) or 'nothing'}): {busy}. Run it again to finish") from busy
    report.landing_files = landing_mentions(layout, subject)
    if include_landing:
        for key in report.landing_files:
            if key not in report.landing_rewritten and _rewrite_landing(layout, key, subject):
                report.landing_rewritten.append(key)
                progress.save(layout)


@dataclass
class _Progress:
    """A purge request over all its runs: the report's counts so far, kept in `layout.purge_partial` (one file
    per subject hash, counts only, never the subject) from before a run edits anything until its audit is
    recorded. The next purge of the subject resumes it, so a run that stopped part-way or was killed keeps its
    request id and counts.

    The warehouse's sinks record what they remove in `purged_lines`, in the transaction that removes it, so
    their counts in the audit come from there (`_count_from_ledger`) and survive a kill at any point. Other
    sinks' counts are saved after each sink (the copies' after each file): a kill in between loses that count
    in `per_sink` (the next run finds nothing left to delete there)."""

    report: PurgeReport
    # Lines removed from the Parquet copies of each landing file (staged records, quarantined lines): those of
    # a landing file the warehouse has no rows of this request for (not loaded yet) count in `lines_purged`.
    copies: Counter = field(default_factory=Counter)
    # Lines a run of the version before `purged_lines` removed (it measured them, and wrote no ledger rows).
    legacy_lines: int = 0
    resumed: bool = False
    earlier_seconds: float = 0.0
    began: float = field(default_factory=time.perf_counter)

    @classmethod
    def resume(cls, layout: HomeLayout, hashed: str, request_id: str | None) -> _Progress:
        """The subject's unfinished request, or a new one. A file that cannot be read counts as none (a purge
        is done again from scratch either way); one whose request is already in purge_audit was left by a run
        killed after its audit, and is ignored."""
        saved = cls._read(layout, hashed)
        if saved is None or _recorded(layout, saved["request_id"]):
            return cls(PurgeReport(request_id or uuid.uuid4().hex, hashed))
        report = PurgeReport(saved["request_id"], hashed, per_sink=saved["per_sink"],
                             landing_rewritten=saved["landing_rewritten"])
        legacy = saved["legacy_lines"]
        if saved["unaccounted_before"] is not None:  # left by the version before the ledger
            legacy = max(0, _unaccounted_lines(layout) - saved["unaccounted_before"])
        return cls(report, Counter(saved["copies"]), legacy, resumed=True, earlier_seconds=saved["seconds"])

    @staticmethod
    def _path(layout: HomeLayout, hashed: str) -> Path:
        return layout.purge_partial / f"{hashed}.json"

    @classmethod
    def _read(cls, layout: HomeLayout, hashed: str) -> dict | None:
        try:
            saved = json.loads(cls._path(layout, hashed).read_text(encoding="utf-8"))
            return {"request_id": str(saved["request_id"]),
                    "per_sink": {str(k): int(v) for k, v in saved["per_sink"].items()},
                    "landing_rewritten": [str(k) for k in saved["landing_rewritten"]],
                    "seconds": float(saved["seconds"]),
                    "copies": {str(k): int(v) for k, v in saved.get("copies", {}).items()},
                    "legacy_lines": int(saved.get("legacy_lines", 0)),
                    "unaccounted_before": (int(saved["unaccounted_before"]) if "unaccounted_before" in saved
                                           else None)}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def seconds(self) -> float:
        return self.earlier_seconds + time.perf_counter() - self.began

    def save(self, layout: HomeLayout) -> None:
        report = self.report
        path = self._path(layout, report.subject_hash)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, {"request_id": report.request_id, "per_sink": report.per_sink,
                          "landing_rewritten": report.landing_rewritten, "seconds": self.seconds(),
                          "copies": dict(self.copies), "legacy_lines": self.legacy_lines})

    def forget(self, layout: HomeLayout) -> None:
        self._path(layout, self.report.subject_hash).unlink(missing_ok=True)


def _recorded(layout: HomeLayout, request_id: str) -> bool:
    if not layout.duckdb.exists():
        return False
    with tables.connect(layout.duckdb, read_only=True) as con:
        return tables.purge_recorded(con, request_id)


def _unaccounted_lines(layout: HomeLayout) -> int:
    """Lines read that no tier, the quarantine nor the ledger holds (what the version before the ledger measured
    a purge's lines by)."""
    if not layout.duckdb.exists():
        return 0
    with tables.connect(layout.duckdb, read_only=True) as con:
        totals = tables.conservation(con)
    return totals["lines_read"] - totals["lines_stored"] - totals["lines_quarantined"] - totals["lines_purged"]


def _count_from_ledger(con: duckdb.DuckDBPyConnection, progress: _Progress) -> None:
    """The audit's counts of the warehouse's sinks from `purged_lines`, which their removals wrote in their own
    transactions (exact whatever run was killed where); lines of copies not loaded yet are added."""
    report = progress.report
    rows, lines, loaded = tables.purged_by(con, report.request_id)
    if progress.legacy_lines and "audit" not in rows:
        tables.record_purged_unknown(con, report.request_id, "audit", 0, progress.legacy_lines)
        rows, lines, loaded = tables.purged_by(con, report.request_id)
    report.per_sink.update({sink: n for sink, n in rows.items() if sink != "audit"})
    report.lines_purged = lines + sum(n for key, n in progress.copies.items() if key not in loaded)


@contextmanager
def _incomplete_if_busy(what: str) -> Iterator[None]:
    try:
        yield
    except Busy as busy:
        raise PurgeIncomplete(f"{what}: {busy}. Run it again to finish") from busy


def landing_mentions(layout: HomeLayout, subject: str) -> list[str]:
    pattern = re.compile(sinks.subject_pattern(subject).encode())
    found = []
    for key in layout.landing_keys():
        path = layout.landing_file(key)
        if path.is_symlink() or not path.is_file():
            continue
        try:
            with open_landing_file(path) as handle:
                if any(pattern.search(line) for line in handle):
                    found.append(key)
        except (OSError, EOFError):  # a truncated gzip is the user's file as it is
            continue
    return found


def _rewrite_landing(layout: HomeLayout, key: str, subject: str) -> bool:
    """The file without its lines that mention the subject (plain text even if it was gzip)."""
    pattern = re.compile(sinks.subject_pattern(subject).encode())
    path: Path = layout.landing_file(key)
    tmp = path.with_name("." + path.name + ".purge-tmp")  # hidden: never listed as a landing file
    try:
        with open_landing_file(path) as source, tmp.open("wb") as out:
            for line in source:
                if not pattern.search(line):
                    out.write(line)
    except (OSError, EOFError):
        tmp.unlink(missing_ok=True)
        return False
    tmp.replace(path)
    return True
