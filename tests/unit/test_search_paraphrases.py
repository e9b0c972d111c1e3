"""Search's paraphrase hit rate at 5 on the test sample: the benchmark's paraphrases, the issue's goal."""

from __future__ import annotations

from pathlib import Path

import duckdb
from support.ask_fixtures import ask_home, indexed_home  # noqa: F401 (fixtures)
from support.fixtures import real_embedder  # noqa: F401 (fixture)

from logpilot_dagster.vectors.evaluation import hit_rate, read_paraphrases
from logpilot_dagster.vectors.index import open_index

PARAPHRASES = Path(__file__).resolve().parents[2] / "benchmarks" / "search_paraphrases.toml"


def test_paraphrases_find_their_templates(indexed_home, real_embedder) -> None:  # noqa: F811
    paraphrases = read_paraphrases(PARAPHRASES)
    assert len(paraphrases) >= 40
    with duckdb.connect(str(indexed_home.duckdb), read_only=True) as con:
        templates = con.execute("SELECT source, template FROM templates").fetchall()
    result = hit_rate(open_index(indexed_home, real_embedder), paraphrases, templates, k=5)
    assert result.asked >= 40  # the sample lacks only a few rare templates
    assert result.rate >= 0.9, result.misses
