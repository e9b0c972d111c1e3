"""After mining: merge Drain3 clusters that are one event.

Drain3 routes a message by its token count and first tokens, so the same event can end up in several
clusters: when a leading token varies without looking like a value, or when a value spans a varying
number of tokens (a list, a free-text name). Merging is a pure function of the clusters (their template
tokens), so it gives the same groups after a save and load.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from drain3.drain import LogCluster

from logpilot_dagster.mining.config import WILDCARD
from logpilot_dagster.mining.tokenize import DRAIN_VALUE_TOKEN


@dataclass(frozen=True)
class Grouping:
    """cluster id -> group id (the smallest cluster id in the group, so ids only change on a merge)."""

    group_of: dict[int, int]
    # Groups whose clusters have different token counts: their lines render with spaced wildcards joined.
    variable_length: frozenset[int]


def _shape(tokens: tuple[str, ...]) -> tuple[str, ...]:
    """The template with masked values as wildcards and runs of wildcards collapsed to one."""
    shape: list[str] = []
    for token in tokens:
        if token == DRAIN_VALUE_TOKEN:
            token = WILDCARD
        if token == WILDCARD and shape and shape[-1] == WILDCARD:
            continue
        shape.append(token)
    return tuple(shape)


def group_clusters(clusters: Iterable[LogCluster]) -> Grouping:
    members: dict[tuple[str, ...], list[LogCluster]] = {}
    for cluster in clusters:
        members.setdefault(_shape(cluster.log_template_tokens), []).append(cluster)
    group_of: dict[int, int] = {}
    variable_length: set[int] = set()
    for same_event in members.values():
        group_id = min(cluster.cluster_id for cluster in same_event)
        for cluster in same_event:
            group_of[cluster.cluster_id] = group_id
        if len({len(cluster.log_template_tokens) for cluster in same_event}) > 1:
            variable_length.add(group_id)
    return Grouping(group_of, frozenset(variable_length))
