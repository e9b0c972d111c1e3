"""Schema discovery for log formats: each of the sample's formats inferred with its registry entry removed, and
a file nobody registered proposed, accepted and ingested with nothing lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from logpilot_dagster.bench.sources_inference import measure
from logpilot_dagster.bootstrap.steps import run_bootstrap
from logpilot_dagster.ingest.discovery import infer, read_proposals
from logpilot_dagster.ingest.sources import SourcesRegistry, default_sources_text
from logpilot_dagster.store import tables


def test_each_sample_format_is_inferred_with_its_entry_removed(sample_landing):
    report = measure(sample_landing / "landing")
    by_source = {r["source"]: r for r in report["sources"]}
    assert set(by_source) == {s.name for s in SourcesRegistry.default().sources}
    wrong = {name: r for name, r in by_source.items() if not r["correct"]}
    assert not wrong, wrong
    # The proposals parse as many lines as the hand-written entries do.
    assert report["lines_parsed"] >= 0.99 * report["lines_parsed_by_true_entries"]
    assert by_source["billing"]["options"].get("multiline") is True
    assert by_source["legacy_crm"]["proposed"] == "regex"


def test_lines_without_timestamps_get_no_proposal():
    reason = infer("notes", "misc/*", ["TODO: ask it-ops why", "vendor contact: support@x.com", "remember this"])
    assert isinstance(reason, str) and reason


def _without(name: str) -> str:
    """The packaged registry's text without the entry `name`."""
    blocks = default_sources_text().split("[[source]]")
    return "[[source]]".join(b for b in blocks if f'name = "{name}"' not in b)


def _cli(layout, *args, env=None):
    return subprocess.run([sys.executable, "-m", "logpilot_dagster.cli", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "LOGPILOT_HOME": str(layout.home), **(env or {})})


def _no_source_lines(layout) -> int:
    with tables.connect(layout.duckdb, read_only=True) as con:
        return con.execute("SELECT coalesce(sum(n_lines), 0) FROM quarantine WHERE reason = 'no_source' "
                           "AND partition_key LIKE 'legacy_crm/%'").fetchone()[0]


def test_an_unregistered_format_is_proposed_accepted_and_ingested(home):
    home.sources_file.write_text(_without("legacy_crm"), encoding="utf-8")
    run_bootstrap(home, workers=1)
    assert _no_source_lines(home) > 0
    proposed = _cli(home, "sources", "--proposed", "--json")
    assert proposed.returncode == 0, proposed.stderr
    report = json.loads(proposed.stdout)
    names = [p["name"] for p in report["proposed"]]
    assert names == ["legacy_crm"]
    assert any(r["name"] == "misc" for r in report["not_proposed"])  # notes.txt has no timestamps
    (saved,) = read_proposals(home.proposed_sources)
    assert saved.format == "regex" and saved.evidence["parsed_share"] >= 0.99

    accepted = _cli(home, "sources", "--accept", "legacy_crm", "--json")
    assert accepted.returncode == 0, accepted.stderr
    legacy_files = [k for k in home.landing_keys() if k.startswith("legacy_crm/")]
    assert json.loads(accepted.stdout)["files_ingested"] == len(legacy_files) > 0
    assert "legacy_crm" in [s.name for s in SourcesRegistry.load(home_file=home.sources_file).sources]
    assert read_proposals(home.proposed_sources) == []
    assert _no_source_lines(home) == 0
    with tables.connect(home.duckdb, read_only=True) as con:
        rows = con.execute("SELECT count(*), count(*) FILTER (WHERE template_id LIKE '%:0') FROM logs "
                           "WHERE source = 'legacy_crm'").fetchone()
        assert tables.conserved(tables.conservation(con))
    assert rows[0] > 0 and rows[1] == 0
    missing = _cli(home, "sources", "--accept", "nope")
    assert missing.returncode == 2 and "no proposed source named 'nope'" in missing.stderr


def test_auto_accept_accepts_validated_proposals(home):
    home.sources_file.write_text(_without("apache"), encoding="utf-8")
    result = _cli(home, "sources", "--proposed", "--json", env={"LOGPILOT_AUTO_ACCEPT_SOURCES": "1"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["accepted"] == ["apache"]
    spec = SourcesRegistry.load(home_file=home.sources_file)["apache"]
    assert spec.options == {} and type(spec.log_format).__name__ == "RegexFormat"


class _FakeLLM:
    """The LLM client: answers one fixed source pattern, counts the questions."""

    disabled_reason = None

    def __init__(self, pattern: str, ts_format: str = "iso") -> None:
        self.reply, self.asked = {"pattern": pattern, "ts_format": ts_format}, 0

    def ask_json(self, system, user, schema, check):
        self.asked += 1
        reply = schema(**self.reply)
        check(reply)
        return reply


def test_the_llm_is_asked_only_where_rules_fail_and_is_validated_like_them():
    # The timestamp at the end of the line: no rule-based candidate fits.
    lines = [f"job {i} finished with status ok @ 2026-03-0{1 + i // 10}T10:{i % 60:02d}:00Z" for i in range(30)]
    good = _FakeLLM(r"^(?P<message>.*) @ (?P<ts>\S+)$")
    proposal = infer("jobs", "jobs/*", lines, good)
    assert not isinstance(proposal, str), proposal
    assert proposal.evidence["inferred_by"] == "llm" and good.asked == 1
    assert proposal.registry()["jobs"].log_format.parse(lines[3]).message == "job 3 finished with status ok"
    wrong = _FakeLLM(r"^(?P<ts>\S+) (?P<message>.*)$")  # fits the schema, parses nothing
    refused = infer("jobs", "jobs/*", lines, wrong)
    assert isinstance(refused, str) and "llm regex: parses 0.0%" in refused
    known = _FakeLLM(r"^(?P<ts>x)(?P<message>y)$")
    assert infer("legacy", "l/*", ["2026-01-01 10:00:00 LegacyCRM: hello"] * 5, known).format == "regex"
    assert known.asked == 0  # the rules found it: no LLM call
