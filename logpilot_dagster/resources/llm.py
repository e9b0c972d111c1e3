"""The LLM endpoint (any OpenAI-compatible server) as a Dagster resource; disabled when none is configured."""

from __future__ import annotations

import os

from dagster import ConfigurableResource
from pydantic import Field

from logpilot_dagster.llm.client import API_KEY_ENV, BASE_URL_ENV, MODEL_ENV, LLMClient, LLMConfig


class LLMResource(ConfigurableResource):
    """Read at run time, never when definitions load. An empty base URL (and an unset
    `LOGPILOT_LLM_BASE_URL`) means the LLM tier reports itself disabled and lines stay `unclassified`."""

    base_url: str = Field(default="", description=f"OpenAI-compatible base URL; empty: ${BASE_URL_ENV}")
    model: str = Field(default="", description=f"model name; empty: ${MODEL_ENV} or gpt-4o-mini")
    api_key_env: str = Field(default=API_KEY_ENV, description="name of the env var holding the API key")
    timeout_s: float = Field(default=30.0, description="per request")
    max_retries: int = Field(default=2, description="retries per question (each counts against the budget)")
    call_budget: int = Field(default=500, description="requests per run, retries included")
    json_mode: bool = Field(default=True, description="ask for response_format=json_object")

    def config(self) -> LLMConfig:
        return LLMConfig(
            base_url=self.base_url or os.environ.get(BASE_URL_ENV) or None,
            model=self.model or os.environ.get(MODEL_ENV) or LLMConfig.model,
            api_key_env=self.api_key_env, timeout_s=self.timeout_s, max_retries=self.max_retries,
            call_budget=self.call_budget, json_mode=self.json_mode,
        )

    def client(self) -> LLMClient:
        """A fresh client: one per run, so the call budget is per run."""
        return LLMClient(self.config())
