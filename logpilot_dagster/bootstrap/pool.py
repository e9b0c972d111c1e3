"""The bootstrap's process pool: staging and parsing are per landing file and use both cores; mining runs in
a child of its own so the memory it used goes back to the system when it is done.

Children start from a small fork server rather than from the caller. A forked copy of a large parent (a
Dagster run, a heap the miner just used) does not stay shared: Python's reference counts and garbage
collector write to the pages they touch, so each worker soon holds a private copy of it all.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

_CHILDREN = multiprocessing.get_context("forkserver")
_CHILDREN.set_forkserver_preload(["logpilot_dagster.bootstrap.steps"])

# What a pool worker's initializer loaded (the parse step's miner, say). In a worker it lives as long as the
# pool; in-process it is dropped when the map ends, so the caller does not keep a loaded miner.
worker_state: dict[str, object] = {}


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
    with ProcessPoolExecutor(max_workers=min(workers, len(items)), initializer=initializer,
                             initargs=initargs, mp_context=_CHILDREN) as pool:
        return list(pool.map(fn, items, chunksize=1))


def in_child(fn: Callable, *args: object) -> object:
    """`fn(*args)` in a child process: whatever memory it used is the system's again when it returns."""
    with ProcessPoolExecutor(max_workers=1, mp_context=_CHILDREN) as pool:
        return pool.submit(fn, *args).result()
