"""An OpenAI-compatible chat endpoint, used with care: explicit timeout, counted retries, a per-run call budget,
replies parsed as JSON and validated against a schema, truncated replies refused.

No endpoint configured means the tier is disabled: callers get `LLMUnavailable` with a reason instead of an
error, and decide what to do with the line (the router leaves it `unclassified`).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ValidationError

T = TypeVar("T", bound=BaseModel)

BASE_URL_ENV = "LOGPILOT_LLM_BASE_URL"
MODEL_ENV = "LOGPILOT_LLM_MODEL"
API_KEY_ENV = "LOGPILOT_LLM_API_KEY"


class LLMUnavailable(RuntimeError):
    """No usable answer: the tier is disabled, over budget, or the endpoint failed every attempt."""


@dataclass(frozen=True)
class LLMConfig:
    base_url: str | None = None
    model: str = "gpt-4o-mini"
    api_key_env: str = API_KEY_ENV  # the name of the variable holding the key, never the key itself
    timeout_s: float = 30.0
    max_retries: int = 2
    call_budget: int = 500  # requests per run, retries included
    json_mode: bool = True  # ask for response_format=json_object; turn off for servers that reject it
    max_tokens: int = 300

    @classmethod
    def from_env(cls) -> LLMConfig:
        return cls(base_url=os.environ.get(BASE_URL_ENV) or None, model=os.environ.get(MODEL_ENV) or cls.model)

    @property
    def enabled(self) -> bool:
        return bool(self.base_url)


class LLMClient:
    def __init__(self, config: LLMConfig):
        self.config = config
        self.calls = 0  # requests sent, retries included; compared with the budget
        self.failed_attempts = 0
        self._lock = threading.Lock()
        # Imported only with an endpoint: the client library takes a second to import, and labelling
        # without an LLM (the usual bootstrap) should not pay for it.
        openai = _openai() if config.enabled else None
        self._client = (
            openai.OpenAI(
                base_url=config.base_url,
                # Local servers accept any key; the client library insists on one being set.
                api_key=os.environ.get(config.api_key_env) or "not-set",
                timeout=config.timeout_s,
                max_retries=0,  # retries are ours, so each one is counted against the budget
            )
            if config.enabled
            else None
        )

    @property
    def disabled_reason(self) -> str | None:
        if self._client is None:
            return f"LLM tier disabled: no endpoint configured (set {BASE_URL_ENV} or the LLM resource)"
        if self.calls >= self.config.call_budget:
            return f"LLM call budget of {self.config.call_budget} spent for this run"
        return None

    def ask_json(self, system: str, user: str, schema: type[T], check: Callable[[T], None] | None = None) -> T:
        """One validated reply; `check` may raise ValueError to reject a reply that fits the schema but not the
        question (a label outside the label set). Invalid replies are retried like failed requests."""
        problems: list[str] = []
        for _ in range(self.config.max_retries + 1):
            self._take_call(problems)
            try:
                return self._attempt(system, user, schema, check)
            except _RetryableProblem as problem:
                problems.append(str(problem))
                self.failed_attempts += 1
            except _FinalProblem as problem:
                self.failed_attempts += 1
                raise LLMUnavailable(str(problem)) from problem
        raise LLMUnavailable(f"no valid LLM answer in {len(problems)} attempts; last: {problems[-1]}")

    def _take_call(self, problems: list[str]) -> None:
        with self._lock:
            reason = self.disabled_reason
            if reason:
                raise LLMUnavailable(f"{reason}; last error: {problems[-1]}" if problems else reason)
            self.calls += 1

    def _attempt(self, system: str, user: str, schema: type[T], check: Callable[[T], None] | None) -> T:
        request = {
            "model": self.config.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "temperature": 0,
            "max_tokens": self.config.max_tokens,
        }
        if self.config.json_mode:
            request["response_format"] = {"type": "json_object"}
        openai = _openai()
        try:
            response = self._client.chat.completions.create(**request)
        except openai.APITimeoutError as err:
            raise _RetryableProblem(f"timed out after {self.config.timeout_s:g}s") from err
        except openai.APIConnectionError as err:
            raise _RetryableProblem(f"cannot connect to {self.config.base_url}: {err}") from err
        except openai.APIStatusError as err:
            if err.status_code == 429 or err.status_code >= 500:
                raise _RetryableProblem(f"HTTP {err.status_code} from the endpoint") from err
            raise _FinalProblem(f"HTTP {err.status_code} from the endpoint: {err.message}") from err
        if not response.choices:
            raise _RetryableProblem("reply without choices")
        choice = response.choices[0]
        if choice.finish_reason == "length":
            raise _FinalProblem(f"reply cut off at max_tokens={self.config.max_tokens} (finish_reason=length)")
        try:
            reply = schema.model_validate(json.loads(_strip_code_fence(choice.message.content or "")))
            if check:
                check(reply)
        except (json.JSONDecodeError, ValidationError, ValueError) as err:
            raise _RetryableProblem(f"reply rejected: {_first_line(err)}") from err
        return reply


def _openai():  # noqa: ANN202 - the module
    import openai

    return openai


class _RetryableProblem(Exception):
    pass


class _FinalProblem(Exception):
    pass


def _strip_code_fence(text: str) -> str:
    # Some models wrap JSON in ```json fences even when asked not to.
    text = text.strip()
    if text.startswith("```"):
        text = text.strip("`")
        text = text[4:] if text.lower().startswith("json") else text
    return text.strip()


def _first_line(err: Exception) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__
