"""The folder stream's files as a purge sink: they hold records as producers wrote them (not masked).

A record holding the subject is overwritten in place with spaces of the same length, so every byte offset
(the committed positions, the `origin` of stored rows) keeps meaning the same record; a blanked record not
yet ingested is quarantined as `blank_line` when it is read.
"""

from __future__ import annotations

import re

from logpilot_dagster.store.layout import HomeLayout


def _files(layout: HomeLayout):
    return sorted(layout.live.glob("*.jsonl")) if layout.live.is_dir() else []


def find(layout: HomeLayout, pattern: str) -> int:
    regex = re.compile(pattern.encode())
    return sum(1 for path in _files(layout) for line in path.read_bytes().split(b"\n") if regex.search(line))


def delete(layout: HomeLayout, pattern: str) -> int:
    regex = re.compile(pattern.encode())
    n = 0
    for path in _files(layout):
        lines = path.read_bytes().split(b"\n")
        hits = {i for i, line in enumerate(lines) if regex.search(line)}
        if not hits:
            continue
        with path.open("r+b") as handle:  # in place: appends by producers after our read are kept
            offset = 0
            for i, line in enumerate(lines):
                if i in hits:
                    handle.seek(offset)
                    handle.write(b" " * len(line))
                offset += len(line) + 1
        n += len(hits)
    return n
