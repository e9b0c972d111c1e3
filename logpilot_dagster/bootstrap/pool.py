"""The bootstrap's process pool: staging and parsing are per landing file and use both cores; mining runs in
a child of its own so the memory it used goes back to the system when it is done.

Children start from a small fork server rather than from the caller. A forked copy of a large parent (a
Dagster run, a heap the miner just used) does not stay shared: Python's reference counts and garbage
collector write to the pages they touch, so each worker soon holds a private copy of it all.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

_CHILDREN = multiprocessing.get_context("forkserver")
# What the fork server imports once, so that no child imports it again: pandas because pyarrow imports it at
# its first conversion of Python objects (0.2 s in every worker's first task otherwise), and the modules of
# the pools' tasks, each added by its own module (`preload`): a live catch-up's fork server does not import
# the bootstrap's steps (0.4 s before its workers could start).
_PRELOAD = ["pandas"]
_CHILDREN.set_forkserver_preload(_PRELOAD)

# What a pool worker's initializer loaded (the parse step's miner, say). In a worker it lives as long as the
# pool; in-process it is dropped when the map ends, so the caller does not keep a loaded miner.
worker_state: dict[str, object] = {}


def preload(module: str) -> None:
    """Have the fork server import `module` too: the module of a pool's tasks (the bootstrap's steps, the live
    workers' matching). Only before the process's first pool starts the fork server."""
    if module not in _PRELOAD:
        _PRELOAD.append(module)
        _CHILDREN.set_forkserver_preload(_PRELOAD)


def _exit_with(owner: int) -> None:
    """End this worker when the process that owns its pool is gone. A pool's workers hold both ends of their
    task queue, so after a kill -9 of the owner they would wait for work forever (and keep the fork server
    alive with them). A pidfd becomes readable when its process ends, and never names a reused pid."""
    try:
        handle = os.pidfd_open(owner)
    except ProcessLookupError:
        os._exit(0)

    def watch() -> None:
        select.select([handle], [], [])
        os._exit(0)

    threading.Thread(target=watch, name="pool-owner-watch", daemon=True).start()


def _start(owner: int, initializer: Callable | None, initargs: tuple) -> None:
    # Ctrl-C is the owner's to handle (a live writer finishes its batch, a bootstrap stops); a worker that
    # took it too would die with a traceback of its own and break the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with(owner)
    if initializer is not None:
        initializer(*initargs)


def process_pool(workers: int, initializer: Callable | None = None, initargs: tuple = ()) -> ProcessPoolExecutor:
    """A pool of fork-server children that end with the process that made it, however it ends."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=_CHILDREN, initializer=_start,
                               initargs=(os.getpid(), initializer, initargs))


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def pool_map(fn: Callable, items: Sequence, workers: int, initializer: Callable | None = None,
             initargs: tuple = ()) -> list:
    """Map in a process pool when it pays off; in-process for one item or one worker."""
    if workers <= 1 or len(items) <= 1:
        try:
            if initializer:
                initializer(*initargs)
            return [fn(item) for item in items]
        finally:
            worker_state.clear()
    with process_pool(min(workers, len(items)), initializer, initargs) as pool:
        return list(pool.map(fn, items, chunksize=1))


def in_child(fn: Callable, *args: object) -> object:
    """`fn(*args)` in a child process: whatever memory it used is the system's again when it returns."""
    with process_pool(1) as pool:
        return pool.submit(fn, *args).result()
