"""A purge against live batches in flight: a batch read before or during a purge may hold its subject, so it
must not be stored (nor learned into the miner) after the purge has passed those sinks.

The purge holds `purge_lock` for as long as it runs and writes a new mark at its start and at its end. A live
writer reads the mark before it reads a batch from the stream, and checks, where it learns (under the miner
lock) and where it commits (inside the transaction), that no purge runs and that the mark is unchanged. A batch
that fails the check is read again once the purge is done: by then the stream's copy is blanked. A purge that
starts after the check meets what the batch stored, since it edits those sinks under the same locks.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from logpilot_dagster.store.layout import HomeLayout
from logpilot_dagster.store.locks import Busy, file_lock, is_held


class PurgedMeanwhile(Busy):
    """A purge ran, or runs, since the batch was read: nothing of it is stored; it is read again."""


def current(layout: HomeLayout) -> str:
    """The mark the last purge wrote ("" before any)."""
    try:
        return layout.purge_mark.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return ""


def mark(layout: HomeLayout) -> None:
    """Written by the purge, holding `purge_lock`, when it starts and when it ends."""
    write_mark(layout.purge_mark)


def write_mark(path: Path, tmp_prefix: str | None = None) -> None:
    """A new unique token in `path`, atomically (a reader sees the old one or the new one). `tmp_prefix`: the
    name of the temporary file, which a cleanup may know (`vector_files.temporary`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{tmp_prefix or '.' + path.name}-{os.getpid()}-{secrets.token_hex(6)}.tmp")
    try:
        tmp.write_text(f"{time.time_ns()}-{secrets.token_hex(6)}", encoding="ascii")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def check(layout: HomeLayout, read_mark: str) -> None:
    """`PurgedMeanwhile` unless no purge runs and none has started since `read_mark` was read."""
    if is_held(layout.purge_lock) or current(layout) != read_mark:
        raise PurgedMeanwhile("a purge ran while this batch was on its way; it is read again")


def wait_until_done(layout: HomeLayout, timeout_s: float) -> None:
    """Until no purge runs (`Busy` after `timeout_s`)."""
    with file_lock(layout.purge_lock, timeout_s, "a purge"):
        pass
