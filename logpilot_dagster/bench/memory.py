"""Peak memory of a process tree: a run's real footprint includes its process-pool workers."""

from __future__ import annotations

import os
import threading
import time


def process_memory_mb(field: str = "VmRSS") -> float:
    """This process's resident memory (`VmRSS`) or its peak (`VmHWM`; unlike `ru_maxrss`, reset by exec)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


class TreeMemorySampler(threading.Thread):
    """Samples the memory (PSS) of a process and its descendants every 200 ms (Linux /proc).

    Each sample is kept as (CLOCK_MONOTONIC seconds, tree kB, root-process kB): the clock is the same in
    every process, so a child that reports when its steps started lets `step_peaks` say which step
    holds the memory, and whether the parent or its pool workers do."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root, self.peak_kb, self._stop_event = root, 0, threading.Event()
        self.timeline: list[tuple[float, int, int]] = []

    def run(self) -> None:
        while not self._stop_event.wait(0.2):
            self._sample()

    def _sample(self) -> None:
        tree_kb, root_kb = _tree_pss_kb(self.root)
        self.timeline.append((time.monotonic(), tree_kb, root_kb))
        self.peak_kb = max(self.peak_kb, tree_kb)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self._sample()

    def step_peaks(self, step_starts: dict[str, float], end: float) -> dict[str, dict[str, float]]:
        """Peak tree and root-process memory (MB) within each step; `step_starts` maps step → monotonic
        start, in order, and the last step ends at `end`."""
        bounds = sorted(step_starts.items(), key=lambda item: item[1])
        peaks = {}
        for i, (step, start) in enumerate(bounds):
            stop = bounds[i + 1][1] if i + 1 < len(bounds) else end
            inside = [(tree, root) for t, tree, root in self.timeline if start <= t <= stop]
            peaks[step] = {"tree_mb": round(max((s[0] for s in inside), default=0) / 1024, 1),
                           "root_mb": round(max((s[1] for s in inside), default=0) / 1024, 1)}
        return peaks

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024

    def __enter__(self) -> TreeMemorySampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _tree_pss_kb(root: int) -> tuple[int, int]:
    """Proportional set size (PSS) summed over the tree, and the root's own: forked workers share their
    parent's pages copy-on-write, and plain RSS would count those pages once per process."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
    root_kb = _pss_kb(root)
    total, frontier = root_kb, [child for child, parent in parents.items() if parent == root]
    while frontier:
        pid = frontier.pop()
        total += _pss_kb(pid)
        frontier.extend(child for child, parent in parents.items() if parent == pid)
    return total, root_kb


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
