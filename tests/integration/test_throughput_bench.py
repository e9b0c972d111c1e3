"""`logpilot bench throughput` at a small N: the three phases run and the JSON has the issue's fields.
(The real measurement, at 1-2M lines, lives outside the test suite: see the README.)"""

import json
from pathlib import Path

import pytest

from logpilot_dagster.cli import main

LOGHUB = Path("/work/shared/data/loghub_2k")
FIELDS = {"lines", "drain3_lines_per_s", "engine_lines_per_s", "dagster_lines_per_s", "engine_ratio",
          "dagster_ratio", "peak_rss_mb", "duckdb_rows_per_s"}


@pytest.mark.slow
def test_throughput_bench_runs_all_phases(tmp_path, capsys):
    out = tmp_path / "throughput.json"
    args = ["bench", "throughput", "--lines", "3000", "--workdir", str(tmp_path / "work"), "--json", str(out)]
    if (LOGHUB / "formats.json").is_file():
        args += ["--loghub", str(LOGHUB)]
    assert main(args) == 0
    result = json.loads(out.read_text())
    assert set(result) >= FIELDS
    assert result["lines"] > 2_000
    assert all(result[k] > 0 for k in FIELDS)
    assert "ratio" in capsys.readouterr().out


def test_throughput_bench_refuses_a_tiny_corpus(capsys):
    assert main(["bench", "throughput", "--lines", "10"]) == 2
    assert "at least 1,000" in capsys.readouterr().err
