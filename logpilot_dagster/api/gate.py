"""Questions and purges in one API process. DuckDB keeps one database instance per file and process, so a
question's guarded read-only connection and a purge's writing ones cannot be open at the same time (DuckDB
refuses the second configuration: a 500). Questions share the warehouse; a purge waits for the ones under way,
holds new ones back, and has it alone."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from logpilot_dagster.store.locks import Busy

GATE_WAIT_S = 120.0  # a question does not wait longer than this for a purge (nor a purge for questions)


class WarehouseGate:
    def __init__(self, wait_s: float = GATE_WAIT_S) -> None:
        self.wait_s = wait_s
        self._changed = threading.Condition()
        self._readers = 0
        self._writing = False

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._changed:
            self._wait(lambda: not self._writing, "a purge in this API process")
            self._readers += 1
        try:
            yield
        finally:
            with self._changed:
                self._readers -= 1
                self._changed.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._changed:
            self._wait(lambda: not self._writing, "another purge in this API process")
            self._writing = True  # new questions wait from here
            try:
                self._wait(lambda: self._readers == 0, "the questions under way in this API process")
            except Busy:
                self._writing = False
                self._changed.notify_all()
                raise
        try:
            yield
        finally:
            with self._changed:
                self._writing = False
                self._changed.notify_all()

    def _wait(self, ready, what: str) -> None:  # noqa: ANN001
        if not self._changed.wait_for(ready, timeout=self.wait_s):
            raise Busy(f"the warehouse has been in use by {what} for more than {self.wait_s:g} s; try again")
