"""Key-value extraction, tier 3: ask the LLM for a template's pairs once, and keep the answer as a pattern.

The LLM sees one example line and returns a JSON object of key → value. Values must occur in the line (no
invented values); each is matched to the template slot that holds it, and the keyed slots become a
registry pattern (origin `llm`), validated on the example, so later lines of the template need no LLM call.
"""

from __future__ import annotations

import re

from pydantic import RootModel

from logpilot_dagster.extract.registry import KVPattern, keys_named, validate
from logpilot_dagster.llm.client import LLMClient, LLMUnavailable
from logpilot_dagster.mining.template_text import WILDCARD

SYSTEM_PROMPT = (
    "You extract key-value pairs from one log line. Answer with one JSON object and nothing else, mapping each "
    "key (a short snake_case name for the field) to its value copied exactly from the line. Only fields whose "
    "value varies between lines (ids, numbers, names, addresses, paths, states). Use {} if there are none."
)
_KEY = re.compile(r"[^\w.\-]+")


class PairsReply(RootModel[dict[str, str | int | float]]):
    pass


def template_params(template: str, message: str) -> list[str] | None:
    """The values in the template's `<*>` slots for one of its lines, or None if the line does not fit."""
    pieces = [re.escape(p) for p in template.split(WILDCARD)]
    match = re.fullmatch("(.+?)".join(pieces), message, re.DOTALL)
    return list(match.groups()) if match else None


class LLMKVExtractor:
    def __init__(self, client: LLMClient):
        self.client = client
        self.asked = 0

    @property
    def disabled_reason(self) -> str | None:
        return self.client.disabled_reason

    def learn(self, template_id: str, template: str, example: str) -> KVPattern | None:
        """One LLM call: the template's keyed pattern, or None when the answer cannot be turned into one."""
        params = template_params(template, example)
        if not params:
            return None
        self.asked += 1

        def check(reply: PairsReply) -> None:
            missing = [k for k, v in reply.root.items() if str(v) not in example]
            if missing:
                raise ValueError(f"values of {missing[:3]} do not occur in the line")

        try:
            reply = self.client.ask_json(SYSTEM_PROMPT, f"Log line:\n{example}", PairsReply, check)
        except LLMUnavailable:
            return None
        slot_keys: dict[int, str] = {}
        for key, value in reply.root.items():
            for i, param in enumerate(params):
                if i not in slot_keys and param == str(value):
                    slot_keys[i] = _KEY.sub("_", key.strip()).strip("_") or f"field_{i}"
                    break
        if not slot_keys:
            return None
        pattern = _pattern(template_id, template, slot_keys)
        return pattern if not validate(pattern, [example]) else None


def _pattern(template_id: str, template: str, slot_keys: dict[int, str]) -> KVPattern:
    pieces = template.split(WILDCARD)
    regex, keys = re.escape(pieces[0]), []
    for i, piece in enumerate(pieces[1:]):
        if i in slot_keys:
            regex += f"(?P<k{len(keys)}>.+?)"
            keys.append(slot_keys[i])
        else:
            regex += ".+?"
        regex += re.escape(piece)
    return KVPattern(template_id, regex, tuple(keys_named(keys)), origin="llm")
