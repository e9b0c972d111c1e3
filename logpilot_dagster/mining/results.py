"""What the miner hands out: a message's event (`LineMatch`) and a template's summary (`TemplateInfo`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LineMatch:
    """One message's event: `template_id` is `"<source>:<n>"`, `template` the message's own text with
    `<*>` for each variable, `params` the variable values in order."""

    template_id: str
    template: str
    params: list[str]


@dataclass(frozen=True, slots=True)
class TemplateInfo:
    template_id: str
    source: str
    template: str
    count: int
    example: str


_new = object.__new__
_set_template_id = LineMatch.template_id.__set__  # type: ignore[attr-defined]
_set_template = LineMatch.template.__set__  # type: ignore[attr-defined]
_set_params = LineMatch.params.__set__  # type: ignore[attr-defined]


def line_match(template_id: str, template: str, params: list[str]) -> LineMatch:
    """`LineMatch(template_id, template, params)`, built twice as fast: the frozen dataclass's `__init__`
    goes through `object.__setattr__` per field, this writes the slots directly. Matching builds one per line."""
    match = _new(LineMatch)
    _set_template_id(match, template_id)
    _set_template(match, template)
    _set_params(match, params)
    return match
