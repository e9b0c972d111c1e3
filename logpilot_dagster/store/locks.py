"""Ownership that must hold across processes: the one live writer, the miner's state, the DuckDB file."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # DuckDB is imported where a connection is made: a file lock alone is light
    import duckdb

T = TypeVar("T")

# How long a writer of the miner's state waits for the other: a bootstrap's mining step holds it for as long as
# it learns (minutes on a large backfill), a live batch only while it learns its unmatched messages.
MINER_WAIT_S = 1800.0
# How long a connection to the warehouse waits while another process holds it (DuckDB has one writing process,
# and readers cannot open the file while it writes): a live batch holds it for about a second, a bootstrap
# load for as long as it loads. After that, `Busy`.
WAREHOUSE_WAIT_S = 30.0


class Busy(RuntimeError):
    """Another process holds what this one needs, for longer than it was willing to wait."""


@contextmanager
def file_lock(path: Path, timeout_s: float, what: str) -> Iterator[None]:
    """An exclusive `flock` on `path`, waited for at most `timeout_s`; released when the process dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Busy(f"{what} is held by another process ({path})") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def is_held(path: Path) -> bool:
    """Whether another process holds the lock right now (a look: taken and released at once)."""
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def _is_lock_conflict(err: duckdb.Error) -> bool:
    """DuckDB's answer when another process holds the file (not any error that merely says "lock": a path
    under /mnt/blockstore, a file system without locks)."""
    return "Conflicting lock is held" in str(err)


def when_free(open_: Callable[[], T], what: str, timeout_s: float) -> T:
    """`open_()` (a DuckDB connect or attach), retried while DuckDB answers that another process holds the
    file; `Busy` once that has lasted `timeout_s`."""
    import duckdb

    deadline = time.monotonic() + timeout_s
    delay = 0.01
    while True:
        try:
            return open_()
        except duckdb.IOException as err:
            if not _is_lock_conflict(err):
                raise
            if time.monotonic() >= deadline:
                raise Busy(f"{what} has been held by another process (a bootstrap load, a live batch, a tiering "
                           f"move, a purge's rewrite, a reader) for more than {timeout_s:g} s; try again") from err
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
