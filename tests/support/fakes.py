"""Stand-ins for the LLM tier that count what they are asked (no network)."""

from __future__ import annotations

from dataclasses import dataclass

from logpilot_dagster.classify.llm_labeller import LabelReply
from logpilot_dagster.llm.client import LLMUnavailable


@dataclass
class _Client:
    calls: int = 0


class FakeLabeller:
    """Answers `label` for every line, or raises LLMUnavailable when `fail` is set; counts the questions."""

    def __init__(self, label: str = "Workflow Error", fail: str | None = None):
        self.answer = label
        self.fail = fail
        self.client = _Client()
        self.asked: list[tuple[str, str]] = []
        self.disabled_reason = None

    def label(self, source: str, message: str) -> LabelReply:
        self.client.calls += 1
        self.asked.append((source, message))
        if self.fail:
            raise LLMUnavailable(self.fail)
        return LabelReply(label=self.answer, confidence=0.7, reason="fake")
