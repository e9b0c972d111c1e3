"""Templates in the message's own spelling, and where each `<*>`'s parameter comes from.

Drain3 clusters token lists; users read templates. A signature and its cluster's template tokens are
aligned token by token, so the template is the signature text with each varying token replaced by
`<*>`: spacing, punctuation and line breaks stay as the message wrote them. Touching wildcards (`<*>`
directly followed by `<*>`, as in `<*><*>`) become one `<*>`, following the loghub-2.0 convention.
"""

from __future__ import annotations

from dataclasses import dataclass

from logpilot_dagster.mining.template_text import WILDCARD
from logpilot_dagster.mining.tokenize import DRAIN_VALUE_TOKEN, TAIL, VALUE

# Where one parameter comes from: an index into the message's masked values, a constant of the
# signature (a word Drain3 generalised: the same in every message with this signature), or the
# concatenation of several of those (touching wildcards merged into one).
ParamSource = int | str | tuple[int | str, ...]


@dataclass(frozen=True, slots=True)
class RenderedTemplate:
    template: str
    sources: tuple[ParamSource, ...]
    # Where each parameter is in the signature, as (start, end): a parameter is always one stretch of the
    # message (touching values and the words or spaces between them), see `shapes.message_slices`.
    spans: tuple[tuple[int, int], ...] = ()

    def params(self, values: list[str]) -> list[str]:
        return [
            values[source]
            if source.__class__ is int
            else source
            if source.__class__ is str
            else "".join(values[part] if part.__class__ is int else part for part in source)
            for source in self.sources
        ]


def render(
    signature: str,
    spans: list[tuple[int, int]],
    template_tokens: tuple[str, ...],
    join_spaced_wildcards: bool = False,
) -> RenderedTemplate:
    """Render `signature` under `template_tokens` (Drain3's tokens for it, `<*>` where they vary).

    `join_spaced_wildcards` also merges wildcards separated only by whitespace: used for a group that
    holds the same event with different numbers of value tokens, so all its lines render alike.
    """
    wildcards: list[tuple[int, int, list[int | str]]] = []
    value_index = 0
    for (start, end), token in zip(spans, template_tokens, strict=True):
        is_value = signature[start] == VALUE
        if token in (WILDCARD, DRAIN_VALUE_TOKEN):
            _add_wildcard(wildcards, signature, start, end, value_index if is_value else signature[start:end],
                          join_spaced_wildcards)
        value_index += is_value
    tail_at = signature.find(TAIL)
    if tail_at != -1:
        _add_wildcard(wildcards, signature, tail_at, tail_at + 1, value_index, join_spaced_wildcards)

    pieces: list[str] = []
    position = 0
    for start, end, _ in wildcards:
        pieces.append(signature[position:start])
        pieces.append(WILDCARD)
        position = end
    pieces.append(signature[position:])
    sources = tuple(parts[0] if len(parts) == 1 else tuple(parts) for _, _, parts in wildcards)
    return RenderedTemplate("".join(pieces), sources, tuple((start, end) for start, end, _ in wildcards))


def _add_wildcard(
    wildcards: list[tuple[int, int, list[int | str]]],
    signature: str,
    start: int,
    end: int,
    source: int | str,
    join_spaced: bool,
) -> None:
    if wildcards:
        last_start, last_end, parts = wildcards[-1]
        gap = signature[last_end:start]
        if not gap or (join_spaced and gap.isspace()):
            if gap:
                parts.append(gap)
            parts.append(source)
            wildcards[-1] = (last_start, end, parts)
            return
    wildcards.append((start, end, [source]))
