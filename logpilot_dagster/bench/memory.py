"""Peak memory of a process tree: a run's real footprint includes its process-pool workers."""

from __future__ import annotations

import os
import threading


class TreeMemorySampler(threading.Thread):
    """Samples the memory (PSS) of a process and its descendants every 200 ms (Linux /proc)."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root, self.peak_kb, self._stop_event = root, 0, threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.2):
            self.peak_kb = max(self.peak_kb, _tree_rss_kb(self.root))

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.peak_kb = max(self.peak_kb, _tree_rss_kb(self.root))

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024

    def __enter__(self) -> TreeMemorySampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _tree_rss_kb(root: int) -> int:
    """Proportional set size (PSS) summed over the tree: forked workers share their parent's pages
    copy-on-write, and plain RSS would count those pages once per process."""
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
    total, frontier = 0, [root]
    while frontier:
        pid = frontier.pop()
        total += _pss_kb(pid)
        frontier.extend(child for child, parent in parents.items() if parent == pid)
    return total


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
