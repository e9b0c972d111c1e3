"""The streaming reader: plain, gzip, over-long lines, truncated gzip."""

import gzip

from logpilot_dagster.ingest.reader import KEPT_PREFIX_BYTES, MAX_LINE_BYTES, RawLine, Truncated, read_lines


def test_plain_and_gzip_read_the_same(tmp_path):
    data = b"one\ntwo\r\nthree"
    (tmp_path / "a.log").write_bytes(data)
    (tmp_path / "a.log.gz").write_bytes(gzip.compress(data))
    for name in ("a.log", "a.log.gz"):
        lines = list(read_lines(tmp_path / name))
        assert [(x.line_no, x.data) for x in lines] == [(1, b"one"), (2, b"two"), (3, b"three")]


def test_over_long_line_keeps_a_prefix_and_the_following_lines(tmp_path):
    big = b"x" * (MAX_LINE_BYTES * 2 + 10)
    (tmp_path / "a.log").write_bytes(b"before\n" + big + b"\nafter\n")
    lines = list(read_lines(tmp_path / "a.log"))
    assert [x.line_no for x in lines] == [1, 2, 3]
    assert lines[1].too_long and lines[1].size == len(big) + 1 and len(lines[1].data) == KEPT_PREFIX_BYTES
    assert lines[2].data == b"after"


def test_truncated_gzip_yields_lines_before_the_cut_then_a_marker(tmp_path):
    payload = b"".join(b"line %d with some text to compress\n" % i for i in range(20000))
    blob = gzip.compress(payload)
    (tmp_path / "t.log.gz").write_bytes(blob[: len(blob) // 2])
    items = list(read_lines(tmp_path / "t.log.gz"))
    assert isinstance(items[-1], Truncated)
    good = [x for x in items if isinstance(x, RawLine)]
    assert 0 < len(good) < 20000 and items[-1].lines_before == len(good)
