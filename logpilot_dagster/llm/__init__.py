"""The LLM client: any OpenAI-compatible endpoint, used by classification, extraction and questions."""

from logpilot_dagster.llm.client import (
    API_KEY_ENV,
    BASE_URL_ENV,
    MODEL_ENV,
    LLMClient,
    LLMConfig,
    LLMUnavailable,
)

__all__ = ["API_KEY_ENV", "BASE_URL_ENV", "MODEL_ENV", "LLMClient", "LLMConfig", "LLMUnavailable"]
