"""Streaming physical lines out of a landing file, gzip or plain, without trusting it.

A line is never longer than `MAX_LINE_BYTES` in memory: a longer one is reported with its first bytes only,
and the rest is skipped in bounded chunks. A gzip stream that ends early yields the lines before the cut,
then a truncation marker, so the caller can quarantine it instead of crashing.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAX_LINE_BYTES = 1 << 20  # 1 MiB: longer lines are quarantined, not parsed
KEPT_PREFIX_BYTES = 64 << 10  # what a quarantined over-long line keeps of itself
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class RawLine:
    line_no: int  # 1-based physical line number
    data: bytes  # without the line ending; only a prefix when `too_long`
    too_long: bool = False
    size: int = 0  # full size in bytes when `too_long`


@dataclass(frozen=True, slots=True)
class Truncated:
    """The compressed stream ended early (or is corrupt) after `lines_before` lines."""

    lines_before: int
    detail: str


def open_landing_file(path: Path) -> BinaryIO:
    """Plain or gzip, decided by the first bytes rather than the name."""
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == GZIP_MAGIC:
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb", buffering=1 << 20)


def read_lines(path: Path) -> Iterator[RawLine | Truncated]:
    line_no = 0
    with open_landing_file(path) as stream:
        try:
            while True:
                chunk = stream.readline(MAX_LINE_BYTES + 1)
                if not chunk:
                    return
                line_no += 1
                if len(chunk) > MAX_LINE_BYTES and not chunk.endswith(b"\n"):
                    size = len(chunk) + _skip_rest_of_line(stream)
                    yield RawLine(line_no, chunk[:KEPT_PREFIX_BYTES], too_long=True, size=size)
                    continue
                yield RawLine(line_no, chunk.rstrip(b"\r\n"))
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            yield Truncated(line_no, str(exc))


def _skip_rest_of_line(stream: BinaryIO) -> int:
    skipped = 0
    while True:
        chunk = stream.readline(MAX_LINE_BYTES)
        skipped += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return skipped
