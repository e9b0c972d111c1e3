"""Tier 3: ask the LLM for one template's label, with the label set and a few examples in the prompt."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, Field

from logpilot_dagster.llm.client import LLMClient


class LabelReply(BaseModel):
    """The JSON the LLM must return; `label` is also checked against the label set."""

    label: str
    confidence: float = Field(default=0.8, ge=0.0, le=1.0)
    reason: str = ""


@dataclass(frozen=True)
class LabelledExample:
    source: str
    message: str
    label: str


SYSTEM_PROMPT = (
    "You label log lines for an operations team. Answer with one JSON object and nothing else: "
    '{"label": "<one label from the list>", "confidence": <0..1>, "reason": "<a few words>"}.'
)


class LLMLabeller:
    def __init__(self, client: LLMClient, labels: Sequence[str], examples: Sequence[LabelledExample] = (),
                 examples_per_label: int = 2):
        self.client = client
        self.labels = tuple(labels)
        self.examples = _few_per_label(examples, examples_per_label)

    @property
    def disabled_reason(self) -> str | None:
        return self.client.disabled_reason

    def label(self, source: str, message: str) -> LabelReply:
        """Raises LLMUnavailable when there is no valid answer."""
        return self.client.ask_json(SYSTEM_PROMPT, self._prompt(source, message), LabelReply, self._check)

    def _check(self, reply: LabelReply) -> None:
        if reply.label not in self.labels:
            raise ValueError(f"label {reply.label!r} is not one of the {len(self.labels)} allowed labels")

    def _prompt(self, source: str, message: str) -> str:
        lines = ["Allowed labels:", *(f"- {label}" for label in self.labels)]
        if self.examples:
            lines += ["", "Examples:"]
            lines += [f"[{e.source}] {e.message} => {e.label}" for e in self.examples]
        lines += ["", "Label this line:", f"[{source}] {message}"]
        return "\n".join(lines)


def _few_per_label(examples: Sequence[LabelledExample], per_label: int) -> tuple[LabelledExample, ...]:
    # Keeps the prompt short and balanced; a long prompt costs tokens on every call.
    chosen: dict[str, list[LabelledExample]] = {}
    for example in examples:
        bucket = chosen.setdefault(example.label, [])
        if len(bucket) < per_label:
            bucket.append(example)
    return tuple(e for bucket in chosen.values() for e in bucket)
