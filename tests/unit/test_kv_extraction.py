"""Key-value extraction: generic pairs, the pattern registry, and the three parsers in order."""

import json
import random

import pytest
from support.openai_stub import OpenAIStub, Reply

from logpilot_dagster.extract import kv as kv_module
from logpilot_dagster.extract.extractor import PARSER_LLM, PARSER_NER, PARSER_REGISTRY, KVExtractor, KVLine
from logpilot_dagster.extract.kv import extract_kv, unparsed_pairs
from logpilot_dagster.extract.llm_kv import LLMKVExtractor, template_params
from logpilot_dagster.extract.registry import PatternRegistry, derive_pattern, leftover_pairs, validate
from logpilot_dagster.live.produce import sample_records
from logpilot_dagster.llm.client import LLMClient, LLMConfig


@pytest.mark.parametrize("message, pairs", [
    ("user=alice action=login", {"user": "alice", "action": "login"}),
    ('msg="disk full: /var" code=28', {"msg": "disk full: /var", "code": "28"}),
    ("status: 200 took: 12ms", {"status": "200", "took": "12ms"}),
    ("ERROR: Disk full", {}),  # prose, not a pair
    ("a=1 a=2", {"a": "1"}),
    ("no pairs here", {}),
])
def test_generic_pairs(message, pairs):
    assert extract_kv(message) == pairs


def test_pair_like_leftovers_are_reported():
    assert unparsed_pairs("user=alice") == []
    assert leftover_pairs("x = = y", {}) != []


def test_patterns_come_from_template_slots_with_a_key_before_them():
    pattern = derive_pattern("t1", "Accepted password for <*> from <*> port <*> ssh2")
    assert pattern.keys == ("port",)  # "for" and "from" do not name a value
    assert pattern.extract("Accepted password for root from 1.2.3.4 port 22 ssh2") == {"port": "22"}
    pattern = derive_pattern("t2", "job <*> state=<*> host: <*> port <*> port <*>")
    assert pattern.keys == ("job", "state", "host", "port", "port_2")
    assert derive_pattern("t3", "Connection from <*>") is None
    assert validate(pattern, ["nope"]) == ["does not match 'nope'"]


def test_registry_persists_and_extracts(tmp_path):
    registry = PatternRegistry.in_folder(tmp_path / "registry")
    added = registry.learn_templates({"t1": "Disk <*> usage <*>% on host <*>", "t2": "Connection from <*>"},
                                     examples={"t1": ["Disk sda usage 91% on host web1"]})
    assert added == 1
    registry.save()
    again = PatternRegistry.in_folder(tmp_path / "registry")
    assert again.extract("t1", "Disk sda usage 91% on host web1 extra=1") == {"extra": "1"}  # no full match
    assert again.extract("t1", "Disk sda usage 91% on host web1") == {"Disk": "sda", "usage": "91", "host": "web1"}
    doc = json.loads((tmp_path / "registry" / "kv_patterns.json").read_text())
    assert doc["patterns"][0]["origin"] == "template"


def test_template_params():
    assert template_params("a <*> b <*>", "a 1 b 2 3") == ["1", "2 3"]
    assert template_params("a <*>", "b 1") is None


class FakeNer:
    def __init__(self):
        self.seen = 0

    def extract(self, messages):
        self.seen += len(messages)
        return [{"peer": m.split()[-1]} if m.startswith("Connection") else {} for m in messages]


def test_parsers_in_order_and_decided_once_per_template(tmp_path):
    registry = PatternRegistry()
    registry.learn_templates({"t1": "Disk <*> usage <*>% on host <*>"})
    ner = FakeNer()
    with OpenAIStub() as stub:
        stub.default = lambda request: Reply.json({"order_id": "70", "state": "stuck"})
        llm = LLMKVExtractor(LLMClient(LLMConfig(base_url=stub.base_url, timeout_s=1.0)))
        extractor = KVExtractor(registry, ner=ner, llm=llm)
        lines = []
        for i in range(50):
            lines.append(KVLine("t1", "Disk <*> usage <*>% on host <*>", f"Disk sd{i} usage {i}% on host web"))
            lines.append(KVLine("t2", "Connection from <*>", f"Connection from 10.0.0.{i}"))
            lines.append(KVLine("t3", "Order <*> is <*>", f"Order {i + 70} is stuck"))
            lines.append(KVLine("t4", "user=<*> did it", f"user=u{i} did it"))
        out = extractor.extract(lines[:100]) + extractor.extract(lines[100:])
        assert len(stub.requests) == 1  # the LLM was asked once, for t3 only
    assert out[0] == {"Disk": "sd0", "usage": "0", "host": "web"}
    assert out[1] == {"peer": "10.0.0.0"}
    assert out[3] == {"user": "u0"}
    assert out[-2] == {"order_id": "119", "state": "stuck"}  # the learned pattern, applied to a later line
    assert registry.patterns["t3"].origin == "llm"
    stats = extractor.stats
    assert stats.templates == 4 and stats.llm_calls == 1
    assert stats.templates_by_parser == {PARSER_REGISTRY: 2, PARSER_NER: 1, PARSER_LLM: 1}


def test_llm_answers_with_invented_values_are_refused():
    with OpenAIStub() as stub:
        stub.default = lambda request: Reply.json({"order_id": "999"})
        llm = LLMKVExtractor(LLMClient(LLMConfig(base_url=stub.base_url, timeout_s=1.0, max_retries=1)))
        assert llm.learn("t3", "Order <*> is <*>", "Order 70 is stuck") is None
        assert len(stub.requests) == 2  # rejected, retried once, given up


def test_no_llm_configured_is_fine():
    extractor = KVExtractor(PatternRegistry(), llm=LLMKVExtractor(LLMClient(LLMConfig(base_url=None))))
    assert extractor.extract([KVLine("t", "Order <*>", "Order 5")]) == [{}]


def test_a_pair_after_one_that_overlapped_another_is_still_found():
    # One left-to-right scan: `a: k` is taken, then `v=x`. (Two separate scans lost `v=x` here: the `=` scan
    # had matched `k = v` inside `a: k` and resumed after it.)
    assert extract_kv("a: k = v=x") == {"a": "k", "v": "x"}


def _pattern_everywhere(message: str) -> dict[str, str]:
    """The pairs of the pair pattern tried at every character (what `extract_kv` must give, faster)."""
    found: dict[str, str] = {}
    if "=" in message or ": " in message:
        for key, value, colon_key, colon_value in kv_module._PAIR.findall(message):
            found.setdefault(key or colon_key, kv_module._unquote(value if key else colon_value))
    return found


def test_pairs_found_from_the_separators_are_the_pairs_of_the_pattern_everywhere():
    rng = random.Random(4)
    alphabet = "ab=: \t,;&\"'[]x1._-é\u00a0"
    messages = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(30_000)]
    messages += [r["message"] for r in sample_records(3_000, seed=8)]
    messages += ["k1=v1 x = y a= b c =d e: f G: h _i:\tj", 'm="a: b" n=[c=d] o=\'e f\'&p=q', "s.t-u=1 9z=2 .v=3"]
    for message in messages:
        assert list(extract_kv(message).items()) == list(_pattern_everywhere(message).items()), message
