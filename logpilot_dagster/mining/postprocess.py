"""After mining: merge Drain3 clusters that are one event.

Drain3 routes a message by its token count and first tokens, and LogPilot runs it with a strict
similarity threshold (see `config`), so the same event can end up in several clusters: when a value
spans a varying number of tokens (a list, a free-text name), or when a variable word that no mask
recognises (a user name, a host without digits) differs. Two rules join them:

1. Same shape: templates equal once masked values are wildcards and runs of wildcards are one
   (`user <*> <*> logged in` and `user <*> logged in`).
2. Same family: templates with at least `min_family_words` words in common and equal except at one
   position, where either one of them already has a wildcard (the position is known to vary) or one
   of the words there was seen as a masked value elsewhere in the source (`root` in `user=root` makes
   `session closed for user root` and `... user news` one event). A few distinct words alone are no
   evidence: `VM Started` / `VM Paused`, `GET` / `POST` are different events.

Merging is a pure function of the clusters (their template tokens), so it gives the same groups
after a save and load.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from drain3.drain import LogCluster

from logpilot_dagster.mining.config import WILDCARD
from logpilot_dagster.mining.tokenize import DRAIN_VALUE_TOKEN


@dataclass(frozen=True)
class Grouping:
    """cluster id -> group id (the smallest cluster id in the group)."""

    group_of: dict[int, int]
    # Groups whose clusters have different token counts: their lines render with spaced wildcards joined.
    variable_length: frozenset[int]
    # (group id, token count) -> the group's template tokens at that length: `<*>` wherever its clusters
    # differ, so every line of a merged group renders the same template.
    tokens: dict[tuple[int, int], tuple[str, ...]] = field(default_factory=dict)

    def template_tokens(self, cluster: LogCluster) -> tuple[str, ...]:
        group_id = self.group_of.get(cluster.cluster_id, cluster.cluster_id)
        return self.tokens.get((group_id, len(cluster.log_template_tokens)), cluster.log_template_tokens)


def shape(tokens: tuple[str, ...]) -> tuple[str, ...]:
    """The template with masked values as wildcards and runs of wildcards collapsed to one."""
    result: list[str] = []
    for token in tokens:
        if token == DRAIN_VALUE_TOKEN:
            token = WILDCARD
        if token == WILDCARD and result and result[-1] == WILDCARD:
            continue
        result.append(token)
    return tuple(result)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, item: int) -> int:
        parent = self.parent.setdefault(item, item)
        if parent != item:
            parent = self.parent[item] = self.find(parent)
        return parent

    def union(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            # The smaller id stays the root, so a group's id is its oldest cluster.
            self.parent[max(root_a, root_b)] = min(root_a, root_b)


def group_clusters(clusters: Iterable[LogCluster], value_words: Collection[str] = frozenset(),
                   min_family_words: int = 3) -> Grouping:
    clusters = list(clusters)
    groups = _UnionFind()
    by_shape: dict[tuple[str, ...], int] = {}
    for cluster in clusters:
        key = shape(cluster.log_template_tokens)
        groups.find(cluster.cluster_id)
        if key in by_shape:
            groups.union(by_shape[key], cluster.cluster_id)
        else:
            by_shape[key] = cluster.cluster_id

    # Families: shapes equal except at one position.
    families: dict[tuple[int, tuple[str, ...]], dict[str, list[int]]] = {}
    for key, cluster_id in by_shape.items():
        for position, token in enumerate(key):
            rest = key[:position] + (None,) + key[position + 1 :]  # type: ignore[operator]
            families.setdefault((position, rest), {}).setdefault(token, []).append(cluster_id)
    for (_, rest), words in families.items():
        if len(words) < 2:
            continue
        if sum(1 for token in rest if token is not None and token != WILDCARD) < min_family_words:
            continue
        if WILDCARD in words or any(word in value_words for word in words):
            ids = [cluster_id for members in words.values() for cluster_id in members]
            for cluster_id in ids[1:]:
                groups.union(ids[0], cluster_id)

    group_of = {cluster.cluster_id: groups.find(cluster.cluster_id) for cluster in clusters}
    tokens: dict[tuple[int, int], tuple[str, ...]] = {}
    lengths: dict[int, set[int]] = {}
    for cluster in clusters:
        group_id = group_of[cluster.cluster_id]
        template = cluster.log_template_tokens
        lengths.setdefault(group_id, set()).add(len(template))
        key = (group_id, len(template))
        known = tokens.get(key)
        tokens[key] = template if known is None or known == template else tuple(
            a if a == b else WILDCARD for a, b in zip(known, template, strict=True))
    variable_length = frozenset(group for group, sizes in lengths.items() if len(sizes) > 1)
    return Grouping(group_of, variable_length, tokens)
