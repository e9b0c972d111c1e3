"""Tier 2 alone and the router: thresholds, routing to the LLM, and the per-template cache."""

import pytest
from support.fakes import FakeLabeller
from support.labelled import HashingEmbedder, labelled_lines

from logpilot_dagster.classify.keys import template_key
from logpilot_dagster.classify.labels import TIER_LLM, TIER_MODEL, TIER_RULES, TIER_UNCLASSIFIED, UNCLASSIFIED
from logpilot_dagster.classify.model import train_classifier
from logpilot_dagster.classify.router import Router
from logpilot_dagster.classify.rules import RuleSet

LOGIN_RULE = RuleSet.parse("[[rule]]\nname='login'\nlabel='User Action'\npattern='^User \\S+ logged in'\n", "t")


@pytest.fixture(scope="module")
def trained():
    embedder = HashingEmbedder()
    data = labelled_lines(per_template=6, seed=1)
    return train_classifier(list(data["log_message"]), list(data["target_label"]), embedder), embedder


def test_template_key_masks_numbers_ids_and_timestamps():
    assert template_key("CPU usage at 91% on host 10.0.0.7") == "CPU usage at <*>% on host <*>"
    assert template_key("req 0xdeadbeef at 2024-01-02T03:04:05Z took 12.5ms") == "req <*> at <*> took <*>ms"


def test_model_alone_labels_unseen_lines_of_known_templates(trained):
    model, embedder = trained
    fresh = labelled_lines(per_template=2, seed=99)
    guesses = model.predict(list(fresh["log_message"]), embedder)
    right = sum(label == truth for (label, _), truth in zip(guesses, fresh["target_label"], strict=True))
    assert right / len(fresh) >= 0.95
    assert all(0.0 <= p <= 1.0 for _, p in guesses)


def test_rules_come_first_then_the_model(trained):
    model, embedder = trained
    router = Router(rules=LOGIN_RULE, model=model, embedder=embedder, threshold=0.0)
    rule, by_model = router.decide([("app", "User bob logged in"), ("app", "CPU usage at 97% on host golf")])
    assert (rule.target_label, rule.tier, rule.confidence) == ("User Action", TIER_RULES, 1.0)
    assert (by_model.target_label, by_model.tier) == ("Resource Usage", TIER_MODEL)
    assert by_model.confidence == pytest.approx(by_model.confidence, abs=1e-9) and 0 < by_model.confidence <= 1


def test_below_the_threshold_goes_to_the_llm_or_stays_unclassified(trained):
    model, embedder = trained
    unsure = Router(model=model, embedder=embedder, threshold=1.01)  # no probability reaches it
    (decision,) = unsure.decide([("app", "CPU usage at 97% on host golf")])
    assert (decision.target_label, decision.tier) == (UNCLASSIFIED, TIER_UNCLASSIFIED)
    assert "model unsure" in decision.reason and "LLM tier disabled" in decision.reason

    llm = FakeLabeller("Resource Usage")
    with_llm = Router(model=model, embedder=embedder, llm=llm, threshold=1.01)
    (decision,) = with_llm.decide([("app", "CPU usage at 97% on host golf")])
    assert (decision.target_label, decision.tier) == ("Resource Usage", TIER_LLM)


def test_sources_routed_to_the_llm_skip_the_model(trained):
    model, embedder = trained
    llm = FakeLabeller("Workflow Error")
    router = Router(model=model, embedder=embedder, llm=llm, llm_sources={"LegacyCRM"})
    (decision,) = router.decide([("legacycrm", "CPU usage at 97% on host golf")])
    assert decision.tier == TIER_LLM and router.stats.model_keys_embedded == 0


def test_llm_failure_leaves_the_line_unclassified_with_the_reason():
    router = Router(llm=FakeLabeller(fail="timed out after 1s"))
    (decision,) = router.decide([("app", "something odd")])
    assert decision.tier == TIER_UNCLASSIFIED and "timed out" in decision.reason


def test_the_cache_decides_each_template_once_however_many_lines(trained):
    model, embedder = trained
    llm = FakeLabeller("Workflow Error")
    router = Router(rules=LOGIN_RULE, model=model, embedder=embedder, llm=llm, llm_sources={"legacy"})
    lines = labelled_lines(per_template=200, seed=5)  # 18 templates x 200 lines
    items = list(zip(lines["source"], lines["log_message"], strict=True))
    items += [("legacy", f"Order {i} stuck in state {i % 7}") for i in range(500)]  # one template
    items += [("app", f"User u{i} logged in") for i in range(500)]  # one template (rule; word ids differ)
    embedded_before = embedder.texts
    decisions = router.decide(items[:1000]) + router.decide(items[1000:])
    assert len(decisions) == len(items)
    distinct = {(s, template_key(m)) for s, m in items}
    assert router.stats.templates == len(distinct)
    # Each model-tier template embedded once, the LLM asked once for the one legacy template.
    assert embedder.texts - embedded_before == router.stats.model_keys_embedded <= len(distinct)
    assert llm.client.calls == router.stats.llm_calls == 1
    # A second pass over the same lines costs nothing.
    router.decide(items)
    assert embedder.texts - embedded_before == router.stats.model_keys_embedded
    assert llm.client.calls == 1


def test_the_cache_key_can_be_the_miner_template_id(trained):
    model, embedder = trained
    router = Router(model=model, embedder=embedder, threshold=0.0)
    decisions = router.decide([("app", "CPU usage at 1% on host a"), ("app", "completely different text")],
                              templates=["t1", "t1"])
    assert decisions[0] == decisions[1] and router.stats.model_keys_embedded == 1


def test_human_pins_win(trained):
    model, embedder = trained
    router = Router(model=model, embedder=embedder)
    message = "CPU usage at 97% on host golf"
    router.pin("app", template_key(message), "Critical Error")
    (decision,) = router.decide([("app", message)])
    assert (decision.target_label, decision.tier) == ("Critical Error", "human")


def test_rules_with_labels_the_model_does_not_know_are_not_applied():
    embedder = HashingEmbedder()
    data = labelled_lines(per_template=3, labels=["Error", "Resource Usage"])
    model = train_classifier(list(data["log_message"]), list(data["target_label"]), embedder)
    router = Router(rules=LOGIN_RULE, model=model, embedder=embedder, threshold=0.0)
    assert router.dropped_rule_names == ["login"]
    (decision,) = router.decide([("app", "User bob logged in")])
    assert decision.tier == TIER_MODEL and decision.target_label in {"Error", "Resource Usage"}
