"""Tier 3 against a local OpenAI-compatible stub: good replies, malformed JSON, wrong labels, timeouts, 500s,
truncated replies, the call budget, and the router asking once per template."""

import json

import pytest
from support.openai_stub import OpenAIStub, Reply, last_user_prompt

from logpilot_dagster.classify.classifier import ClassifierConfig, HybridClassifier
from logpilot_dagster.classify.labels import DEFAULT_LABELS, TIER_LLM, TIER_UNCLASSIFIED
from logpilot_dagster.classify.llm_labeller import LabelledExample, LLMLabeller
from logpilot_dagster.classify.router import Router
from logpilot_dagster.llm.client import LLMClient, LLMConfig, LLMUnavailable

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def stub():
    with OpenAIStub() as server:
        yield server


def labeller(stub, **config) -> LLMLabeller:
    settings = {"base_url": stub.base_url, "model": "stub", "timeout_s": 0.5, "max_retries": 1, **config}
    return LLMLabeller(LLMClient(LLMConfig(**settings)), DEFAULT_LABELS,
                       [LabelledExample("crm", "Ticket 4 escalation failed", "Workflow Error")])


def test_good_reply_is_used_and_the_prompt_has_labels_and_examples(stub):
    stub.queue(Reply.json({"label": "Security Alert", "confidence": 0.93, "reason": "brute force"}))
    reply = labeller(stub).label("fw", "50 failed logins for root")
    assert (reply.label, reply.confidence) == ("Security Alert", 0.93)
    request = stub.requests[0]
    prompt = last_user_prompt(request)
    assert all(label in prompt for label in DEFAULT_LABELS)
    assert "Ticket 4 escalation failed => Workflow Error" in prompt and "[fw] 50 failed logins" in prompt
    assert request["response_format"] == {"type": "json_object"} and request["temperature"] == 0


@pytest.mark.parametrize("bad", [Reply.malformed(), Reply.json({"label": "Banana"}), Reply.server_error(),
                                 Reply.stall(2.0), Reply.json({"label": "Error", "confidence": 7})])
def test_one_bad_reply_is_retried(stub, bad):
    stub.queue(bad, Reply.json({"label": "Error", "confidence": 0.8}))
    llm = labeller(stub)
    assert llm.label("app", "boom").label == "Error"
    assert llm.client.calls == 2 and llm.client.failed_attempts == 1


@pytest.mark.parametrize("bad, says", [(Reply.malformed(), "reply rejected"),
                                       (Reply.json({"label": "Banana"}), "not one of"),
                                       (Reply.server_error(), "HTTP 500"),
                                       (Reply.stall(2.0), "timed out")])
def test_bad_replies_every_time_give_up_with_the_reason(stub, bad, says):
    stub.default = lambda request: bad
    llm = labeller(stub, max_retries=2)
    with pytest.raises(LLMUnavailable, match=says):
        llm.label("app", "boom")
    assert llm.client.calls == 3  # first try + 2 retries, bounded


def test_truncated_reply_is_not_retried(stub):
    stub.queue(Reply.truncated())
    llm = labeller(stub)
    with pytest.raises(LLMUnavailable, match="finish_reason=length"):
        llm.label("app", "boom")
    assert llm.client.calls == 1


def test_client_errors_are_not_retried(stub):
    stub.queue(Reply(status=401, content="bad key"))
    llm = labeller(stub)
    with pytest.raises(LLMUnavailable, match="HTTP 401"):
        llm.label("app", "boom")
    assert llm.client.calls == 1


def test_call_budget_stops_asking(stub):
    llm = labeller(stub, call_budget=2)
    router = Router(llm=llm)
    decisions = router.decide([("app", f"odd thing number {w}") for w in ("one", "two", "three", "four")])
    assert [d.tier for d in decisions] == [TIER_LLM, TIER_LLM, TIER_UNCLASSIFIED, TIER_UNCLASSIFIED]
    assert "budget of 2" in decisions[-1].reason
    assert len(stub.requests) == 2


def test_code_fenced_json_is_accepted(stub):
    stub.queue(Reply(content='```json\n{"label": "User Action"}\n```'))
    assert labeller(stub).label("app", "x").label == "User Action"


def test_router_asks_once_per_template_and_keeps_answers_as_examples(stub, tmp_path):
    stub.default = lambda request: Reply.json({"label": "Workflow Error", "confidence": 0.77, "reason": "crm"})
    answers = tmp_path / "labels" / "llm_answers.csv"
    config = ClassifierConfig(use_model=False, llm=LLMConfig(base_url=stub.base_url, timeout_s=1.0),
                              llm_answers_csv=str(answers), llm_sources=frozenset({"legacycrm"}))
    classifier = HybridClassifier(config)
    lines = [("LegacyCRM", f"Case escalation for ticket ID {i} failed") for i in range(300)]
    lines += [("LegacyCRM", f"Lead convert failed for lead {i}") for i in range(300)]
    results = classifier.classify(lines)
    assert {(r.target_label, r.tier) for r in results} == {("Workflow Error", TIER_LLM)}
    assert len(stub.requests) == 2 == classifier.router.stats.llm_calls
    kept = answers.read_text().splitlines()
    assert kept[0].startswith("source,log_message,target_label,label_source")
    assert len(kept) == 3 and all(",llm," in row for row in kept[1:])


def test_no_endpoint_means_disabled_not_failed():
    classifier = HybridClassifier(ClassifierConfig(use_model=False, llm=LLMConfig(base_url=None)))
    (result,) = classifier.classify([("LegacyCRM", "Lead convert failed for lead 9")])
    assert result.tier == TIER_UNCLASSIFIED and "LLM tier disabled" in result.reason
    assert classifier.tiers()["llm"]["enabled"] is False


def test_unreachable_endpoint_is_handled():
    llm = LLMLabeller(LLMClient(LLMConfig(base_url="http://127.0.0.1:9/v1", timeout_s=0.3, max_retries=1)),
                      DEFAULT_LABELS)
    (decision,) = Router(llm=llm).decide([("app", "odd")])
    assert decision.tier == TIER_UNCLASSIFIED and "cannot connect" in decision.reason


def test_stub_records_json_requests(stub):
    labeller(stub).label("app", "x")
    assert json.loads(json.dumps(stub.requests[0]))["model"] == "stub"
