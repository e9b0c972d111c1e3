"""One source's miner: a Drain3 TemplateMiner behind a signature cache, plus merging and rendering.

Drain3 is not thread-safe, so LogPilot keeps one of these per source and never shares it.

Template ids. A line's id is the number of a Drain3 cluster: the oldest cluster of its merged group
(see `postprocess`). At the end of every `learn` batch each cluster's number is *issued* and pinned,
so an id keeps meaning the same event for ever: further learning may generalise its template text or
route new clusters into it, but never renumbers a cluster that was already issued (two groups that
only merge in a later batch keep their two ids, with the same template text: both ids stay valid, and
new lines take whichever cluster they are learned into, usually the older). Once a family is merged
(see `postprocess`), a new message it covers is counted in the group's cluster of its length instead of
making a Drain3 cluster, so it gets the group's id; matching does the same for an unseen signature.

Speed. Learning and matching cost a few dictionary lookups per message once its shape is known: the
shape key (the message with its digits read as `0`, see `shapes`) gives the signature without running
the masking regex, the signature gives the learned cluster without walking Drain3's tree, and in
matching the shape gives the template id, the template and where each parameter sits in the message.
`learn` counts a batch's signatures and sends Drain3 only the first message of each signature it has
not seen, in message order, so it learns exactly what a message-by-message loop would.

Matching is read-only. A message is matched, in this order, to the cluster its signature was learned
into (the signature cache, persisted), to a cluster whose template covers it exactly, or to the nearest
cluster Drain3 would have put it in (its template then has `<*>` where the message differs). A message
like nothing learned gets the reserved id 0 (`"<source>:0"`, "not learned yet"), its masked text as
the template and its masked values as params: matching in several processes at once never invents
clashing ids. Learn first (or use `mine`) to give such messages their own templates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from contextlib import suppress
from operator import attrgetter, itemgetter

from drain3 import TemplateMiner
from drain3.drain import LogCluster
from drain3.memory_buffer_persistence import MemoryBufferPersistence

from logpilot_dagster.mining.config import MinerConfig
from logpilot_dagster.mining.constants import KeyValueCounts, keep_constants
from logpilot_dagster.mining.engine import ValueAwareDrain
from logpilot_dagster.mining.persistence import SourceState
from logpilot_dagster.mining.postprocess import Grouping, group_clusters
from logpilot_dagster.mining.render import RenderedTemplate, render
from logpilot_dagster.mining.results import LineMatch, line_match
from logpilot_dagster.mining.shapes import Shape, id_key, make_shape, message_slices, shape_keys
from logpilot_dagster.mining.template_text import WILDCARD
from logpilot_dagster.mining.tokenize import (
    DRAIN_VALUE_TOKEN,
    VALUE,
    drain_content,
    mask_message,
    signature_tokens,
)

UNMATCHED_ID = 0
# Clusters created before learning refreshes the grouping it routes new messages with (see `_covering`).
MIN_REGROUP = 256
# Messages per step of `learn`: bounds the per-batch lists and how far the shape cache can overfill.
LEARN_CHUNK = 50_000
_signature_of = attrgetter("signature")
# What matching needs for every message of one shape: template id, template, and the parameters'
# slices of the message (an `itemgetter` over them, None without parameters), with their number.
_LineEntry = tuple[str, str, itemgetter | None, int]


def _drain(config: MinerConfig) -> tuple[TemplateMiner, ValueAwareDrain]:
    drain3_config = config.to_drain3()
    miner = TemplateMiner(config=drain3_config)
    miner.drain = ValueAwareDrain(
        depth=drain3_config.drain_depth,
        sim_th=drain3_config.drain_sim_th,
        max_children=drain3_config.drain_max_children,
        max_clusters=drain3_config.drain_max_clusters,
        extra_delimiters=drain3_config.drain_extra_delimiters,
        param_str=WILDCARD,
        parametrize_numeric_tokens=drain3_config.parametrize_numeric_tokens,
    )
    return miner, miner.drain


class SourceMiner:
    def __init__(self, name: str, config: MinerConfig, state: SourceState | None = None) -> None:
        self._config = config
        self._id_prefix = f"{name}:"
        self._miner, self._drain = _drain(config)
        if state is not None:
            # Drain3 restores its tree through a persistence handler; detach it afterwards so learning
            # does not snapshot the whole tree on every change (LogPilot saves explicitly).
            buffer = MemoryBufferPersistence()
            buffer.state = state.drain3_snapshot.encode("ascii")
            self._miner.persistence_handler = buffer
            self._miner.load_state()
            self._miner.persistence_handler = None
        self._examples: dict[int, str] = dict(state.examples) if state else {}
        self._value_words: set[str] = set(state.value_words) if state else set()
        self._issued: dict[int, int] = dict(state.issued) if state else {}
        self._key_values = KeyValueCounts(config.max_constant_values, config.min_constant_count,
                                          state.key_values if state else None)
        self._constant_keys = self._key_values.constant_keys()
        id_to_cluster = self._drain.id_to_cluster
        self._cluster_of: dict[str, LogCluster] = {}
        if state:
            for signature, cluster_id in state.signatures.items():
                cluster = id_to_cluster.get(cluster_id)
                if cluster is not None:
                    self._cluster_of[signature] = cluster
        # Derived from the above, rebuilt on demand (never saved).
        self._grouping: Grouping | None = None
        self._rendered: dict[str, tuple[int, RenderedTemplate]] = {}
        self._shapes: dict[bytes, Shape] = {}
        self._seen_once: set[int] = set()  # hashes of shape keys met once (see `_admit`)
        self._line_entries: dict[bytes, _LineEntry] = {}
        self._id_strings: dict[int, str] = {}
        self._created = 0

    # -- masking ----------------------------------------------------------------------------------

    def _mask(self, message: str) -> tuple[str, list[str]]:
        """`tokenize.mask_message`, with the values of constant keys kept as wording (see `constants`)."""
        signature, values = mask_message(message, self._config.max_head_chars)
        return keep_constants(signature, values, self._constant_keys)

    def _shapes_of(self, keys: list[bytes], messages: Sequence[str]) -> dict[bytes, Shape]:
        """The shape of each distinct key of `keys` (the shape keys of `messages`), cached when possible."""
        shapes = self._shapes
        if len(shapes) >= self._config.max_cached_shapes:
            shapes.clear()
        found: dict[bytes, Shape] = dict.fromkeys(keys)  # type: ignore[arg-type]
        example: dict[bytes, str] | None = None
        for key in found:
            shape = shapes.get(key)
            if shape is None:
                if example is None:
                    example = dict(zip(keys, messages, strict=True))
                shape, _, _ = make_shape(example[key], self._config.max_head_chars, self._constant_keys)
                if shape.cacheable and self._admit(key):
                    shapes[key] = shape
            found[key] = shape
        return found

    def _admit(self, key: bytes) -> bool:
        """Whether a shape just computed for `key` is worth caching: the second time its key is met. Most
        shapes met once are never met again (a random id or hash in the wording), and a cached shape holds
        its message twice over, so caching every shape made memory grow with the input (measured: 137,000
        shapes cached after parsing a 1M-line corpus, and 25,000 line entries, made for shapes met again).
        A hash collision only caches a shape early."""
        seen = self._seen_once
        digest = hash(key)
        if digest in seen:
            seen.discard(digest)
            return True
        if len(seen) >= self._config.max_cached_shapes:
            seen.clear()
        seen.add(digest)
        return False

    # -- learning ---------------------------------------------------------------------------------

    def learn(self, messages: Sequence[str]) -> None:
        value_words = self._value_words
        words_before = len(value_words)
        room = words_before < self._config.max_value_words
        learned = False
        for start in range(0, len(messages), LEARN_CHUNK):
            learned |= self._learn_chunk(messages[start : start + LEARN_CHUNK], room)
        if learned or len(value_words) != words_before:
            self._grouping = None
            self._forget_rendered()
        if self._issue():
            self._forget_rendered()

    def _learn_chunk(self, messages: Sequence[str], room: bool) -> bool:
        """Learn one chunk; True when Drain3 saw a message (clusters or templates may have changed)."""
        keys = shape_keys(messages)
        shapes = self._shapes_of(keys, messages)
        if self._count_key_values(keys, shapes):
            shapes = self._shapes_of(keys, messages)  # a key became constant or variable: mask its shapes anew
        if room:
            for shape in shapes.values():
                if shape.words:
                    self._value_words.update(shape.words)
        signatures: list[str] = list(map(_signature_of, map(shapes.__getitem__, keys)))
        if any(shape.signature is None for shape in shapes.values()):
            # Few messages: find them with list.index (a C loop) rather than a Python loop over all.
            at = -1
            with suppress(ValueError):
                while True:
                    at = signatures.index(None, at + 1)  # type: ignore[arg-type]
                    signatures[at] = self._mask(messages[at])[0]
        return self._count(signatures, messages)

    def _count_key_values(self, keys: list[bytes], shapes: dict[bytes, Shape]) -> bool:
        """Count the chunk's keyed values (see `constants`); True when the constant keys changed, and with
        them how messages are masked (the cached shapes and line entries are then dropped)."""
        keyed = {key: shape.keyed for key, shape in shapes.items() if shape.keyed}
        if not keyed:
            return False
        lines = Counter(keys)
        for key, values in keyed.items():
            self._key_values.observe(values, lines[key])
        constant_keys = self._key_values.constant_keys()
        if constant_keys == self._constant_keys:
            return False
        changed = constant_keys ^ self._constant_keys
        self._constant_keys = constant_keys
        # Only shapes with a value of a changed key mask differently now.
        stale = [key for key, shape in self._shapes.items() if any(k in changed for _, k, _ in shape.keyed)]
        for key in stale:
            del self._shapes[key]
        self._forget_rendered()
        return True

    def _count(self, signatures: list[str], messages: Sequence[str]) -> bool:
        """Add each message to its signature's cluster, teaching Drain3 the signatures it has not seen."""
        cluster_of = self._cluster_of
        counts = Counter(signatures)  # in order of first occurrence
        new = [signature for signature in counts if signature not in cluster_of]
        if self._config.max_clusters is not None or len(cluster_of) + len(new) > self._config.max_cached_signatures:
            # Clusters may be evicted, or the signature cache dropped, midway: go message by message.
            return self._count_one_by_one(signatures, messages)
        first = dict(zip(reversed(signatures), reversed(messages), strict=True)) if new else {}
        for signature, count in counts.items():
            cluster = cluster_of.get(signature)
            if cluster is None:
                # Drain3 counts the first message; later ones would find the signature in the cache.
                cluster = self._learn_new(signature, first[signature])
                count -= 1
            cluster.size += count
        return bool(new)

    def _count_one_by_one(self, signatures: list[str], messages: Sequence[str]) -> bool:
        cluster_of = self._cluster_of
        evicting = self._config.max_clusters is not None
        id_to_cluster = self._drain.id_to_cluster
        learned = False
        for message, signature in zip(messages, signatures, strict=True):
            cluster = cluster_of.get(signature)
            if cluster is not None and not (evicting and cluster.cluster_id not in id_to_cluster):
                # Same signature, same cluster: Drain3 would not change the template, only count it.
                cluster.size += 1
                continue
            self._learn_new(signature, message)
            learned = True
        return learned

    def _learn_new(self, signature: str, message: str) -> LogCluster:
        if len(self._cluster_of) >= self._config.max_cached_signatures:
            self._cluster_of.clear()
        content = drain_content(signature, signature_tokens(signature))
        cluster = self._covering(content)
        if cluster is None:
            cluster, change = self._drain.add_log_message(content)
            if change == "cluster_created":
                self._examples[cluster.cluster_id] = message
                self._created += 1
        self._cluster_of[signature] = cluster
        return cluster

    def _covering(self, content: str) -> LogCluster | None:
        """The cluster of a merged group whose template covers `content`: a new user name in a known event
        joins it without Drain3 making (and later searching) one more cluster per name. The grouping is
        refreshed once the clusters created since it was made reach a quarter of all clusters, so the
        clusters a source holds stay proportional to its events, not to its values."""
        if self._grouping is None or self._created > max(MIN_REGROUP, len(self._drain.id_to_cluster) // 4):
            if not self._config.merge_templates:
                return None
            self._grouping = None
            self._created = 0
        cluster_id = self.grouping().covering(content.split())
        return None if cluster_id is None else self._drain.id_to_cluster.get(cluster_id)

    def _issue(self) -> bool:
        """Pin the id of every cluster not issued yet (see the module docstring); True if any changed."""
        group_of = self.grouping().group_of
        issued = self._issued
        before = len(issued)
        for cluster_id, group_id in group_of.items():
            if cluster_id not in issued:
                issued[cluster_id] = issued.get(group_id, group_id)
        changed = len(issued) != before
        if self._config.max_clusters is not None:  # evicted clusters no longer need an entry
            evicted = [c for c in issued if c not in group_of]
            for cluster_id in evicted:
                del issued[cluster_id]
            changed = changed or bool(evicted)
        return changed

    def _forget_rendered(self) -> None:
        self._rendered.clear()
        self._line_entries.clear()

    def forget_derived(self) -> None:
        """Drop every cache that is rebuilt on demand (shapes, line entries, rendered templates, grouping);
        what was learned stays. Matching afterwards gives the same results, a little slower at first."""
        self._forget_rendered()
        self._shapes.clear()
        self._seen_once.clear()
        self._id_strings.clear()
        self._grouping = None

    # -- matching ---------------------------------------------------------------------------------

    def match(self, messages: Sequence[str]) -> list[LineMatch]:
        """The event of each message, in order. Read-only: see the module docstring."""
        get_entry = self._line_entries.get
        results: list[LineMatch] = []
        append = results.append
        by_ids = self._config.max_head_chars  # id keys are only for messages mined whole
        for message, key in zip(messages, shape_keys(messages), strict=True):
            entry = get_entry(key)
            if entry is None:
                entry = self._line_entry(key, message)
                if entry is None and len(key) <= by_ids:
                    # Unknown shape: perhaps a known one but for its random ids (see `shapes.id_key`).
                    ids = id_key(key)
                    if ids != key:
                        key = ids
                        entry = get_entry(key) or self._line_entry(key, message)
                if entry is None:
                    append(self._match_one(key, message))
                    continue
            template_id, template, take, count = entry
            params = list(take(message)) if count > 1 else [take(message)] if count else []
            append(line_match(template_id, template, params))
        return results

    def _line_entry(self, key: bytes, message: str) -> _LineEntry | None:
        """What matching needs for every message of `message`'s shape, when the shape is known and has a
        fixed signature; None otherwise (the message is then matched on its own, see `_match_one`)."""
        shape = self._shapes.get(key)
        if shape is None or shape.signature is None:
            return None
        template_id, rendered = self._rendered_for(shape.signature)
        slices = message_slices(shape, shape.signature, rendered.spans)
        entry = (self._id_string(template_id), rendered.template, itemgetter(*slices) if slices else None,
                 len(slices))
        if len(self._line_entries) >= self._config.max_cached_shapes:
            self._line_entries.clear()
        self._line_entries[key] = entry
        return entry

    def _match_one(self, key: bytes, message: str) -> LineMatch:
        """Match through the masking regex, and remember the shape: a message seen once (most often one
        with random hex) costs no more, one seen again gets a line entry the next time."""
        shape = self._shapes.get(key)
        if shape is None:
            shape, signature, values = make_shape(message, self._config.max_head_chars, self._constant_keys)
            if shape.cacheable and self._admit(key):
                if len(self._shapes) >= self._config.max_cached_shapes:
                    self._shapes.clear()
                self._shapes[key] = shape
        else:
            signature, values = self._mask(message)
        template_id, rendered = self._rendered_for(signature)
        return line_match(self._id_string(template_id), rendered.template, rendered.params(values))

    def _covering_grouped(self, content: str) -> LogCluster | None:
        if not self._config.merge_templates:
            return None
        cluster_id = self.grouping().covering(content.split())
        return None if cluster_id is None else self._drain.id_to_cluster.get(cluster_id)

    def _id_string(self, template_id: int) -> str:
        text = self._id_strings.get(template_id)
        if text is None:
            text = self._id_strings[template_id] = f"{self._id_prefix}{template_id}"
        return text

    def _rendered_for(self, signature: str) -> tuple[int, RenderedTemplate]:
        entry = self._rendered.get(signature)
        if entry is None:
            if len(self._rendered) >= self._config.max_cached_signatures:
                self._rendered.clear()  # bounded like the signature cache; entries are rebuilt on demand
            entry = self._rendered[signature] = self._render(signature)
        return entry

    def _render(self, signature: str) -> tuple[int, RenderedTemplate]:
        spans = signature_tokens(signature)
        cluster = self._cluster_of.get(signature)
        template_tokens: tuple[str, ...] | None = None
        if cluster is None or cluster.cluster_id not in self._drain.id_to_cluster:
            content = drain_content(signature, spans)
            cluster = self._covering_grouped(content) or self._drain.match(content, "fallback")
            if cluster is None:
                tokens = content.split()
                cluster = self._drain.tree_search(self._drain.root_node, tokens, self._drain.sim_th, False)
                if cluster is not None:
                    template_tokens = tuple(self._drain.create_template(tokens, cluster.log_template_tokens))
        if cluster is None:
            # Nothing learned looks like it: the masked text itself, with the reserved id.
            unmatched = tuple(DRAIN_VALUE_TOKEN if signature[start] == VALUE else signature[start:end]
                              for start, end in spans)
            return UNMATCHED_ID, render(signature, spans, unmatched)
        grouping = self.grouping()
        group_id = grouping.group_of.get(cluster.cluster_id, cluster.cluster_id)
        template = render(
            signature,
            spans,
            template_tokens or grouping.template_tokens(cluster),
            join_spaced_wildcards=group_id in grouping.variable_length,
        )
        return self._issued.get(cluster.cluster_id, group_id), template

    # -- templates and state ----------------------------------------------------------------------

    def grouping(self) -> Grouping:
        if self._grouping is None:
            clusters = list(self._drain.clusters)
            if self._config.merge_templates:
                self._grouping = group_clusters(clusters, self._value_words)
            else:
                self._grouping = Grouping({c.cluster_id: c.cluster_id for c in clusters}, frozenset())
        return self._grouping

    def templates(self) -> list[tuple[int, str, int, str]]:
        """(template number, template, count, example) per issued id, most frequent first."""
        counts: dict[int, int] = {}
        first: dict[int, int] = {}
        for cluster in self._drain.clusters:
            template_id = self._issued.get(cluster.cluster_id, cluster.cluster_id)
            counts[template_id] = counts.get(template_id, 0) + cluster.size
            first[template_id] = min(first.get(template_id, cluster.cluster_id), cluster.cluster_id)
        result = []
        for template_id, count in counts.items():
            example = self._examples.get(first[template_id], self._examples.get(template_id, ""))
            signature, _ = self._mask(example)
            _, template = self._render(signature)
            result.append((template_id, template.template, count, example))
        return sorted(result, key=lambda row: (-row[2], row[0]))

    def state(self) -> SourceState:
        buffer = MemoryBufferPersistence()
        self._miner.persistence_handler = buffer
        try:
            self._miner.save_state("logpilot save")
        finally:
            self._miner.persistence_handler = None
        return SourceState(
            drain3_snapshot=buffer.state.decode("ascii"),
            examples=dict(self._examples),
            value_words=sorted(self._value_words),
            issued=dict(self._issued),
            signatures={signature: cluster.cluster_id for signature, cluster in self._cluster_of.items()},
            key_values=self._key_values.state(),
        )
