"""After mining: merge Drain3 clusters that are one event.

Drain3 routes a message by its token count and first tokens, and LogPilot runs it with a strict
similarity threshold (see `config`), so the same event can end up in several clusters: when a value
spans a varying number of tokens (a list, a free-text name), or when a variable word that no mask
recognises (a user name, a host without digits) differs. Three rules join them:

1. Same shape: templates equal once masked values are wildcards and runs of wildcards are one
   (`user <*> <*> logged in` and `user <*> logged in`).
2. Same family: templates with at least `min_family_words` words in common and equal except at one
   position, where the words seen there are one variable (`_varies`): one of them is already a wildcard
   (the position is known to vary); one was seen as a masked value elsewhere in the source (`root` in
   `user=root` makes `session closed for user root` and `... user news` one event); there are many of them
   (`high_cardinality`, 10: user and customer names); or at least three, all built like identifiers
   (`orders-db`, `apt-daily.service`) or right after a word that introduces one (`user`, `by`, `for`,
   `customer`, ...). Two words, or a few plain ones elsewhere, are no evidence: `VM Started` / `VM Paused`,
   `GET` / `POST` are different events. A merged family's position becomes a wildcard and the generalised
   shapes are compared again, so values at two positions (a user and a host) merge in two rounds.
3. Covered: a shape equal to a generalised one of the same length wherever that one has a word joins it
   (the rare line with unseen words at two of its wildcards).

Learning also routes a new message whose shape a merged family covers straight to that group
(`Grouping.covering`), so a source holds clusters per event, not per user name.

Merging is a pure function of the clusters (their template tokens), so it gives the same groups
after a save and load.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from drain3.drain import LogCluster

from logpilot_dagster.mining.template_text import WILDCARD
from logpilot_dagster.mining.tokenize import CONSTANT_MARK, VALUE_LIKE_MARK


@dataclass(frozen=True)
class Grouping:
    """cluster id -> group id (the smallest cluster id in the group)."""

    group_of: dict[int, int]
    # Groups whose clusters have different token counts: their lines render with spaced wildcards joined.
    variable_length: frozenset[int]
    # (group id, token count) -> the group's template tokens at that length: `<*>` wherever its clusters
    # differ, so every line of a merged group renders the same template.
    tokens: dict[tuple[int, int], tuple[str, ...]] = field(default_factory=dict)
    # Shapes with wildcards, to find the group of a message Drain3 has not seen (see `covering`):
    # (shape length, positions of its words) -> {those words -> group id}.
    general: dict[tuple[int, tuple[int, ...]], dict[tuple[str, ...], int]] = field(default_factory=dict)
    # (group id, token count) -> one cluster of the group with that many tokens.
    member: dict[tuple[int, int], int] = field(default_factory=dict)

    def covering(self, tokens: list[str]) -> int | None:
        """The id of a cluster whose group's generalised shape covers `tokens` (Drain3's tokens of a
        message) and that has as many tokens, or None."""
        key = shape(tuple(tokens))
        length = len(key)
        for (size, constant), known in self.general.items():
            if size == length:
                group_id = known.get(tuple(key[i] for i in constant))
                if group_id is not None and not _hides_constant(key, constant):
                    return self.member.get((group_id, len(tokens)))
        return None

    def template_tokens(self, cluster: LogCluster) -> tuple[str, ...]:
        group_id = self.group_of.get(cluster.cluster_id, cluster.cluster_id)
        return self.tokens.get((group_id, len(cluster.log_template_tokens)), cluster.log_template_tokens)


def shape(tokens: tuple[str, ...]) -> tuple[str, ...]:
    """The template with masked values (and the units after them) as wildcards and runs of wildcards
    collapsed to one."""
    result: list[str] = []
    for token in tokens:
        if token[0] == VALUE_LIKE_MARK:
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


# Words that introduce an identifier: the word right after them names a user, customer, account, ...
_IDENTIFIER_KEYS = frozenset({
    "user", "users", "username", "for", "by", "from", "customer", "account", "agent", "employee", "member",
    "owner", "partner", "client", "tenant", "mailbox", "via",
})
# A word built like an identifier rather than wording: lower-case parts joined by `-`, `_` or `.`
# (`orders-db`, `marketing_opt_in`, `walter.kowalski`, `apt-daily.service`). Capitalised or camelCase
# names are left alone: in Java logs they are classes and methods, which name different events.
_IDENTIFIER_RE = re.compile(r"[a-z][a-z0-9]*(?:[-_.][a-z0-9]+)+")


def _varies(words: Collection[str], rest: tuple[str | None, ...], position: int, value_words: Collection[str],
            high_cardinality: int) -> bool:
    """Whether the words seen at `position` of a family (templates equal but there) are one variable."""
    if any(word[0] == CONSTANT_MARK for word in words):
        return False  # a kept constant names the event's variant (see `constants`)
    if WILDCARD in words or any(word in value_words for word in words):
        return True
    if len(words) >= high_cardinality:
        return True
    if len(words) < 3:  # two words are as often two events (GET / POST) as two values
        return False
    if all(_IDENTIFIER_RE.fullmatch(word) for word in words):
        return True
    before = next((token for token in reversed(rest[:position]) if token != WILDCARD), None)
    return before is not None and before.lower().rstrip(":") in _IDENTIFIER_KEYS


def _generalise(key: tuple[str, ...], positions: set[int]) -> tuple[str, ...]:
    return shape(tuple(WILDCARD if i in positions else token for i, token in enumerate(key)))


def _join_covered(by_shape: dict[tuple[str, ...], int], groups: _UnionFind, min_family_words: int) -> None:
    """Join a shape to a generalised one of the same length that covers it (equal wherever the general one
    has a word): the lines a merge left behind, with unseen words at several of its wildcards."""
    general: dict[tuple[int, tuple[int, ...]], dict[tuple[str, ...], int]] = {}
    for key, cluster_id in by_shape.items():
        constant = tuple(i for i, token in enumerate(key) if token != WILDCARD)
        if len(constant) < len(key) and len(constant) >= min_family_words:
            general.setdefault((len(key), constant), {})[tuple(key[i] for i in constant)] = cluster_id
    for key, cluster_id in by_shape.items():
        for (length, constant), known in general.items():
            if length == len(key) and len(constant) < len(key):
                cover = known.get(tuple(key[i] for i in constant))
                if cover is not None and cover != cluster_id and not _hides_constant(key, constant):
                    groups.union(cover, cluster_id)
                    break


def _hides_constant(key: tuple[str, ...], constant: tuple[int, ...]) -> bool:
    """Whether a shape with words only at `constant` would put a wildcard over one of `key`'s kept constants."""
    at = set(constant)
    return any(token[0] == CONSTANT_MARK for i, token in enumerate(key) if i not in at)


def group_clusters(clusters: Iterable[LogCluster], value_words: Collection[str] = frozenset(),
                   min_family_words: int = 3, high_cardinality: int = 10, max_rounds: int = 4) -> Grouping:
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

    merged_keys: set[tuple[str, ...]] = set()  # shapes made by merging families: they route new messages
    # Families: shapes equal except at one position. A merged family's position becomes a wildcard, and
    # the generalised shapes are compared again (values at two positions: a user name and a host name).
    for _ in range(max_rounds):
        families: dict[tuple[int, tuple[str | None, ...]], dict[str, list[tuple[str, ...]]]] = {}
        for key in by_shape:
            for position, token in enumerate(key):
                rest = key[:position] + (None,) + key[position + 1 :]
                families.setdefault((position, rest), {}).setdefault(token, []).append(key)
        variable_at: dict[tuple[str, ...], set[int]] = {}
        for (position, rest), words in families.items():
            if len(words) < 2:
                continue
            if sum(1 for token in rest if token is not None and token != WILDCARD) < min_family_words:
                continue
            if _varies(words, rest, position, value_words, high_cardinality):
                keys = [key for members in words.values() for key in members]
                for key in keys:
                    groups.union(by_shape[keys[0]], by_shape[key])
                    variable_at.setdefault(key, set()).add(position)
        if not variable_at:
            break
        generalised: dict[tuple[str, ...], int] = {}
        for key, cluster_id in by_shape.items():
            positions = variable_at.get(key)
            new_key = _generalise(key, positions) if positions else key
            if positions or key in merged_keys:
                merged_keys.add(new_key)
            if new_key in generalised:
                groups.union(generalised[new_key], cluster_id)
            else:
                generalised[new_key] = cluster_id
        if generalised.keys() == by_shape.keys():
            break  # nothing generalised: the next round would find the same families
        by_shape = generalised
    _join_covered(by_shape, groups, min_family_words)

    group_of = {cluster.cluster_id: groups.find(cluster.cluster_id) for cluster in clusters}
    tokens: dict[tuple[int, int], tuple[str, ...]] = {}
    lengths: dict[int, set[int]] = {}
    member: dict[tuple[int, int], int] = {}
    for cluster in clusters:
        group_id = group_of[cluster.cluster_id]
        template = cluster.log_template_tokens
        lengths.setdefault(group_id, set()).add(len(template))
        member.setdefault((group_id, len(template)), cluster.cluster_id)
        key = (group_id, len(template))
        known = tokens.get(key)
        tokens[key] = template if known is None or known == template else tuple(
            a if a == b else WILDCARD for a, b in zip(known, template, strict=True))
    variable_length = frozenset(group for group, sizes in lengths.items() if len(sizes) > 1)
    general_groups: dict[tuple[int, tuple[int, ...]], dict[tuple[str, ...], int]] = {}
    for key in merged_keys & by_shape.keys():
        constant = tuple(i for i, token in enumerate(key) if token != WILDCARD)
        if len(constant) >= min_family_words:
            general_groups.setdefault((len(key), constant), {})[tuple(key[i] for i in constant)] = groups.find(
                by_shape[key])
    return Grouping(group_of, variable_length, tokens, general_groups, member)
