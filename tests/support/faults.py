"""Fault injection: run a piece of LogPilot in a child process that kills itself with SIGKILL on the n-th call
of a chosen function (earlier calls complete), so a test can check what the next run makes of the remains."""

from __future__ import annotations

import subprocess
import sys
import textwrap

_CHILD = """
import importlib, os, signal, sys

module, owner, name, dies_at = sys.argv[1], sys.argv[2] or None, sys.argv[3], int(sys.argv[4])
target = importlib.import_module(module)
holder = getattr(target, owner) if owner else target
original = getattr(holder, name)
calls = []

def dying(*args, **kwargs):
    calls.append(1)
    if len(calls) == dies_at:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(*args, **kwargs)

setattr(holder, name, dying)
args = sys.argv[5:]
"""


def run_killed_at(point: tuple[str, str | None, str, int], body: str, *args: str,
                  timeout: float = 300) -> subprocess.CompletedProcess:
    """`point` = (module, class or None, function, the call that dies); `body` runs after the patch, with the
    extra command-line `args` in `args`."""
    module, owner, name, dies_at = point
    code = _CHILD + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code, module, owner or "", name, str(dies_at), *args],
                          capture_output=True, text=True, timeout=timeout)
