"""The labelled PII corpus (benchmarks/pii_corpus): recall, look-alikes kept, and the corpus itself."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import pytest

from logpilot_dagster.pii import KINDS
from logpilot_dagster.pii.audit import read_labelled, score_labelled

CORPUS_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "pii_corpus"
CORPUS = CORPUS_DIR / "corpus.jsonl"
STYLES = {"syslog", "log4j", "openstack", "json", "apache", "kv", "hdfs", "k8s"}
FAMILIES = {"uuid", "hex_hash", "hdfs_block", "time", "duration", "port_pid", "container_id", "luhn_invalid",
            "version", "timestamp", "date", "tz_offset", "mac", "number", "secret_look_alike"}


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return list(read_labelled(CORPUS))


def test_corpus_covers_every_kind_style_and_family(records):
    assert len(records) >= 400
    assert {r["style"] for r in records} == STYLES
    kinds = Counter(kind for r in records for kind, _, _ in r["pii"])
    assert set(kinds) == set(KINDS) and min(kinds.values()) >= 15, kinds
    assert {family for r in records for family, _, _ in r["keep"]} >= FAMILIES


def test_corpus_recall_and_look_alikes(records):
    score = score_labelled(records)
    assert score.recall >= 0.99, score.missed
    assert score.look_alikes_masked == 0, score.over_masked
    assert score.exact_lines >= 0.98 * score.lines


def test_the_score_fails_on_a_miss_and_on_an_over_mask():
    line = "hello from 10.0.0.1"
    missed = {"line": line, "expected": "<EMAIL_REDACTED> from <IP_REDACTED>", "pii": [["email", 0, 5]], "keep": []}
    over = {"line": line, "expected": line, "pii": [], "keep": [["version", 11, 19]]}
    score = score_labelled([missed, over])
    assert score.recall == 0.0 and score.missed == [("email", "hello")]
    assert score.look_alikes_masked == 1 and score.over_masked == [("version", "10.0.0.1")]
    assert score.exact_lines == 0


def test_corpus_is_what_its_generator_writes(tmp_path):
    spec = importlib.util.spec_from_file_location("pii_corpus_generate", CORPUS_DIR / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    out = tmp_path / "corpus.jsonl"
    assert generate.main(["--out", str(out)]) == 0
    assert out.read_bytes() == CORPUS.read_bytes()
