"""The LLM resource: disabled without an endpoint, configured from fields or the environment at run time."""

from logpilot_dagster.resources.llm import LLMResource


def test_no_endpoint_means_disabled(monkeypatch):
    monkeypatch.delenv("LOGPILOT_LLM_BASE_URL", raising=False)
    assert "disabled" in LLMResource().client().disabled_reason


def test_endpoint_from_field_or_environment(monkeypatch):
    monkeypatch.setenv("LOGPILOT_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("LOGPILOT_LLM_MODEL", "local-7b")
    config = LLMResource(call_budget=3).config()
    assert (config.base_url, config.model, config.call_budget) == ("http://127.0.0.1:9/v1", "local-7b", 3)
    assert LLMResource(base_url="http://h/v1", model="m").config().base_url == "http://h/v1"
    assert LLMResource().client().disabled_reason is None
