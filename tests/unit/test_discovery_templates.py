"""Schema discovery for new templates: a good regex accepted, over-broad / non-matching / slow ones refused
and kept with their reason, the LLM asked only when the template's own pattern fails."""

from __future__ import annotations

import re

import pytest

from logpilot_dagster.live.schema_discovery import (
    Proposal,
    SchemaRegistry,
    _LLMRegex,
    discover,
    from_template,
    validate,
)

TEMPLATE = "Accepted password for <*> from <*> port <*> ssh2"
SAMPLES = ["Accepted password for alice from 10.0.0.1 port 22 ssh2",
           "Accepted password for bob from vpn-1.example.com port 50122 ssh2"]
OTHERS = ["Failed password for carol from 10.0.0.9 port 22 ssh2", "session opened for user root"]


def test_the_template_proposal_is_typed_named_and_accepted():
    proposal = from_template("syslog:4", TEMPLATE, SAMPLES)
    assert proposal.proposed_by == "template"
    groups = re.compile(proposal.regex).groupindex
    assert set(groups) == {"p0", "p1", "port"}  # "for" and "from" are not keys; "port" is
    assert r"(?P<port>\d+)" in proposal.regex
    verdict = validate(proposal, TEMPLATE, SAMPLES, OTHERS)
    assert verdict.accepted, verdict.reason
    assert re.fullmatch(proposal.regex, SAMPLES[1])["port"] == "50122"


@pytest.mark.parametrize(("regex", "reason"), [
    (r"(?P<a>.*) (?P<b>.*) (?P<c>.*)", "over-broad"),  # matches the other template's line
    (r"Accepted key for (?P<a>\S+) from (?P<b>\S+) port (?P<c>\d+) ssh2", "does not match"),
    (r"Accepted password for (?P<a>(\w+)+) from (?P<b>\S+) port (?P<c>\d+) ssh2", "nested quantifiers"),
    (r"Accepted password for (?P<a>(?:\w|\w)*) from (?P<b>\S+) port (?P<c>\d+) ssh2", "slow"),
    (r"Accepted password for (?P<a>\S+) from \S+ port \d+ ssh2", "named groups"),
    (r"Accepted (?P<a>[", "does not compile"),
])
def test_bad_proposals_are_refused_with_their_reason(regex, reason):
    verdict = validate(Proposal("syslog:4", regex, "human"), TEMPLATE, SAMPLES, OTHERS)
    assert not verdict.accepted and reason in verdict.reason


def test_a_pathological_pattern_is_stopped_by_the_time_limit_not_left_running():
    # No nested quantifier for the static check to see; only running it on a long near-miss shows it.
    slow = Proposal("t:1", r"(?P<x>(?:a|a)*)", "llm")
    verdict = validate(slow, "<*>", ["aaaa"], [], timeout_s=0.05)
    assert not verdict.accepted and verdict.reason.startswith("slow")
    assert verdict.seconds < 5


class _FakeLLM:
    """The LLM resource's client, answering one fixed regex (and counting how often it was asked)."""

    disabled_reason = None

    def __init__(self, regex: str) -> None:
        self.regex, self.asked = regex, 0

    def ask_json(self, system, user, schema, check):
        self.asked += 1
        reply = schema(regex=self.regex)
        assert isinstance(reply, _LLMRegex)
        check(reply)
        return reply


def test_registry_records_who_proposed_and_keeps_rejections(tmp_path):
    registry = SchemaRegistry.load(tmp_path / "schema_registry.json")
    # The second template's own pattern also matches another template's line (over-broad), so the LLM is
    # asked, and its narrower pattern is kept.
    templates = {"s:1": "user <*> logged in", "s:2": "user <*> logged in from <*>"}
    samples = {"s:1": ["user ann logged in", "user bo logged in"],
               "s:2": ["user ann logged in from 10.1.1.1", "user cy logged in from 10.2.2.2"]}
    others = {"s:1": samples["s:2"] + ["disk full"], "s:2": samples["s:1"] + ["user ann logged in from x"]}
    llm = _FakeLLM(r"user (?P<user>\w+) logged in from (?P<ip>\d+\.\d+\.\d+\.\d+)")
    result = discover(registry, templates, samples, others, llm)
    registry.save()
    again = SchemaRegistry.load(tmp_path / "schema_registry.json")
    assert result.accepted["s:1"] == "template"
    assert again.accepted["s:1"]["proposed_by"] == "template"
    assert result.accepted.get("s:2") == "llm" and again.accepted["s:2"]["groups"] == ["ip", "user"]
    assert llm.asked == 1  # only for the template whose own pattern was refused
    assert [r["reason"].split(":")[0] for r in again.rejected] == ["over-broad"]
    # Known templates are never proposed again: no LLM call, nothing new rejected.
    assert discover(again, templates, samples, others, llm).known == 2 and llm.asked == 1


def test_an_unreadable_schema_registry_leaves_the_generic_pairs(tmp_path):
    import pyarrow as pa

    from logpilot_dagster.live.schema_discovery import RegistryKV

    path = tmp_path / "schema_registry.json"
    path.write_text('{"accepted": {"nova:7": {"regex": "(?P<unit>[unclosed"}}}')
    rows = pa.table({"template_id": ["nova:7"], "message": ["unit 5"],
                     "kv": pa.array([[("a", "b")]], pa.map_(pa.string(), pa.string()))})
    registry = RegistryKV(path)
    assert registry.fill(rows).to_pylist() == rows.to_pylist() and registry.patterns == {}
    path.write_text("not json")
    assert registry.fill(rows).to_pylist() == rows.to_pylist()


def test_discovery_keeps_a_purge_s_edit_made_while_it_ran_and_saves_nothing_after_a_failed_check(tmp_path,
                                                                                               monkeypatch):
    """Discovery reads the registry, may ask the LLM for seconds, then saves: a purge meanwhile removed the
    subject's entry, and the save wrote it back from what it had read. Now the new entries are merged into the
    file as it is then, under the miner lock; and a failed `before_save` check (a purge since the batch was
    read) saves nothing."""
    from logpilot_dagster.live import schema_discovery
    from logpilot_dagster.store import sinks
    from logpilot_dagster.store.layout import HomeLayout
    from logpilot_dagster.store.purge_guard import PurgedMeanwhile

    layout = HomeLayout(tmp_path)
    first = SchemaRegistry.load(layout.schema_registry)
    discover(first, {"s:1": "login by cust_qz7741 from <*>"}, {"s:1": ["login by cust_qz7741 from 10.0.0.1",
                                                                       "login by cust_qz7741 from 10.0.0.2"]},
             {"s:1": ["disk full"]})
    first.save()
    registry_sink = next(s for s in sinks.SINKS if s.name == "schema_registry")
    real = schema_discovery.discover

    def discover_while_purged(*args, **kwargs):
        result = real(*args, **kwargs)
        assert registry_sink.delete(layout, "cust_qz7741") >= 1  # the purge, while discovery runs
        return result

    monkeypatch.setattr(schema_discovery, "discover", discover_while_purged)
    schema_discovery.discover_new_templates(layout, {"s:2": TEMPLATE}, {"s:2": SAMPLES})
    saved = SchemaRegistry.load(layout.schema_registry)
    assert sorted(saved.accepted) == ["s:1", "s:2"]  # the purge's edit kept (the subject replaced), s:2 added
    assert "cust_qz7741" not in layout.schema_registry.read_text()

    monkeypatch.setattr(schema_discovery, "discover", real)

    def purged_since():
        raise PurgedMeanwhile("a purge ran")

    with pytest.raises(PurgedMeanwhile):
        schema_discovery.discover_new_templates(layout, {"s:3": "user <*> logged in"},
                                                {"s:3": ["user ann logged in", "user bo logged in"]},
                                                before_save=purged_since)
    assert sorted(SchemaRegistry.load(layout.schema_registry).accepted) == ["s:1", "s:2"]
