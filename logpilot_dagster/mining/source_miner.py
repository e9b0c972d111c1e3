"""One source's miner: a Drain3 TemplateMiner behind a signature cache, plus merging and rendering.

Drain3 is not thread-safe, so LogPilot keeps one of these per source and never shares it.

Template ids. A line's id is the number of a Drain3 cluster: the oldest cluster of its merged group
(see `postprocess`). At the end of every `learn` batch each cluster's number is *issued* and pinned,
so an id keeps meaning the same event for ever: further learning may generalise its template text or
route new clusters into it, but never renumbers a cluster that was already issued (two groups that
only merge in a later batch keep their two ids, with the same template text).

Matching is read-only. A message is matched, in this order, to the cluster its signature was learned
into (the signature cache, persisted), to a cluster whose template covers it exactly, or to the nearest
cluster Drain3 would have put it in (its template then has `<*>` where the message differs). A message
like nothing learned gets the reserved id 0 (`"<source>:0"`, "not learned yet"), its masked text as
the template and its masked values as params: matching in several processes at once never invents
clashing ids. Learn first (or use `mine`) to give such messages their own templates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from drain3 import TemplateMiner
from drain3.drain import LogCluster
from drain3.memory_buffer_persistence import MemoryBufferPersistence

from logpilot_dagster.mining.config import WILDCARD, MinerConfig
from logpilot_dagster.mining.engine import ValueAwareDrain
from logpilot_dagster.mining.masks import VALUE_WORD_RE
from logpilot_dagster.mining.persistence import SourceState
from logpilot_dagster.mining.postprocess import Grouping, group_clusters
from logpilot_dagster.mining.render import RenderedTemplate, render
from logpilot_dagster.mining.tokenize import (
    DRAIN_VALUE_TOKEN,
    VALUE,
    drain_content,
    mask_message,
    signature_tokens,
)

Masked = tuple[str, list[str]]
UNMATCHED_ID = 0


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
    def __init__(self, config: MinerConfig, state: SourceState | None = None) -> None:
        self._config = config
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
        id_to_cluster = self._drain.id_to_cluster
        self._cluster_of: dict[str, LogCluster] = {}
        if state:
            for signature, cluster_id in state.signatures.items():
                cluster = id_to_cluster.get(cluster_id)
                if cluster is not None:
                    self._cluster_of[signature] = cluster
        self._grouping: Grouping | None = None
        self._rendered: dict[str, tuple[int, RenderedTemplate]] = {}

    # -- learning ---------------------------------------------------------------------------------

    def mask(self, messages: Iterable[str]) -> list[Masked]:
        max_head = self._config.max_head_chars
        return [mask_message(message, max_head) for message in messages]

    def learn(self, messages: Sequence[str], masked: Sequence[Masked] | None = None) -> None:
        if masked is None:
            masked = self.mask(messages)
        cluster_of = self._cluster_of
        evicting = self._config.max_clusters is not None
        id_to_cluster = self._drain.id_to_cluster
        value_words = self._value_words
        find_words = VALUE_WORD_RE.findall
        room = len(value_words) < self._config.max_value_words
        for message, (signature, values) in zip(messages, masked, strict=True):
            if values and room:
                value_words.update(find_words(VALUE.join(values)))
            cluster = cluster_of.get(signature)
            if cluster is not None and not (evicting and cluster.cluster_id not in id_to_cluster):
                # Same signature, same cluster: Drain3 would not change the template, only count it.
                cluster.size += 1
                continue
            self._learn_new(signature, message)
        self._grouping = None
        self._rendered.clear()
        self._issue()

    def _learn_new(self, signature: str, message: str) -> None:
        if len(self._cluster_of) >= self._config.max_cached_signatures:
            self._cluster_of.clear()
        cluster, change = self._drain.add_log_message(drain_content(signature, signature_tokens(signature)))
        self._cluster_of[signature] = cluster
        if change == "cluster_created":
            self._examples[cluster.cluster_id] = message

    def _issue(self) -> None:
        """Pin the id of every cluster not issued yet (see the module docstring)."""
        group_of = self.grouping().group_of
        issued = self._issued
        for cluster_id, group_id in group_of.items():
            if cluster_id not in issued:
                issued[cluster_id] = issued.get(group_id, group_id)
        if self._config.max_clusters is not None:  # evicted clusters no longer need an entry
            for cluster_id in [c for c in issued if c not in group_of]:
                del issued[cluster_id]

    # -- matching ---------------------------------------------------------------------------------

    def match(self, messages: Sequence[str], masked: Sequence[Masked] | None = None) -> list[tuple[int, str, list[str]]]:
        """(template number, template, params) per message. Read-only: see the module docstring."""
        if masked is None:
            masked = self.mask(messages)
        results = []
        rendered = self._rendered
        for message, (signature, values) in zip(messages, masked, strict=True):
            entry = rendered.get(signature)
            if entry is None:
                entry = rendered[signature] = self._render(signature, message)
            template_id, template = entry
            results.append((template_id, template.template, template.params(values)))
        return results

    def _render(self, signature: str, message: str) -> tuple[int, RenderedTemplate]:
        spans = signature_tokens(signature)
        cluster = self._cluster_of.get(signature)
        template_tokens: tuple[str, ...] | None = None
        if cluster is None or cluster.cluster_id not in self._drain.id_to_cluster:
            content = drain_content(signature, spans)
            cluster = self._drain.match(content, "fallback")
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
            signature, _ = mask_message(example, self._config.max_head_chars)
            _, template = self._render(signature, example)
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
        )
