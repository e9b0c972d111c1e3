"""The folder stream's reader: records tile the range exactly, whatever the block and line sizes."""

from __future__ import annotations

import random

import pytest

from logpilot_dagster.live import folder
from logpilot_dagster.live.folder import FolderStream


@pytest.mark.parametrize("seed", range(6))
def test_records_tile_the_range_across_blocks_and_over_long_lines(tmp_path, monkeypatch, seed):
    # Small blocks and a small line bound, so that lines cross blocks and some are over-long.
    monkeypatch.setattr(folder, "_BLOCK", 64)
    monkeypatch.setattr(folder, "MAX_LINE_BYTES", 40)
    monkeypatch.setattr(folder, "KEPT_PREFIX_BYTES", 8)
    rng = random.Random(seed)
    lines = [bytes(rng.choice(b"abc {}\":,") for _ in range(rng.choice([0, 1, 5, 30, 39, 41, 63, 64, 65, 200])))
             for _ in range(300)]
    (tmp_path / "s.jsonl").write_bytes(b"".join(line + b"\n" for line in lines) + b"unfinished")
    stream = FolderStream(tmp_path)
    rng_ = stream.plan({}, None, max_records=10_000, max_bytes=1 << 20)
    read = stream.read(rng_)
    records = read.records
    assert len(records) == len(lines)
    position = 0
    for record, line in zip(records, lines, strict=True):
        assert (record.offset, record.end) == (position, position + len(line) + 1)
        # A line is whole, or (over-long, and longer than what was left of a block) its first bytes only.
        assert record.value == line or (record.too_long and len(line) > 40 and record.value == line[:8])
        position = record.end
    assert read.positions == {"live/s.jsonl": position} and read.bytes_read == position
