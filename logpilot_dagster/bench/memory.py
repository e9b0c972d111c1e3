"""Peak memory of a process tree: a run's real footprint includes its process-pool workers."""

from __future__ import annotations

import os
import threading

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


class TreeRssSampler(threading.Thread):
    """Samples the summed RSS of a process and its descendants every 200 ms (Linux /proc)."""

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

    def __enter__(self) -> TreeRssSampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _tree_rss_kb(root: int) -> int:
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        rss[pid] = int(fields[21]) * PAGE_KB
    total, frontier = 0, [root]
    while frontier:
        pid = frontier.pop()
        total += rss.get(pid, 0)
        frontier.extend(child for child, parent in parents.items() if parent == pid)
    return total
