"""What the CLI shows a person at a terminal while a command works: a spinner with the elapsed time, on stderr,
and nothing at all when stderr is a pipe or a file (scripts and CI see only the result)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext


@contextmanager
def busy(message: str) -> Iterator[None]:
    if not sys.stderr.isatty():
        with nullcontext():
            yield
        return
    from rich.console import Console

    with Console(stderr=True).status(message):
        yield
