"""One source's miner: a Drain3 TemplateMiner behind a signature cache, plus merging and rendering.

Drain3 is not thread-safe, so LogPilot keeps one of these per source and never shares it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from drain3 import TemplateMiner
from drain3.drain import LogCluster
from drain3.memory_buffer_persistence import MemoryBufferPersistence

from logpilot_dagster.mining.config import MinerConfig
from logpilot_dagster.mining.persistence import SourceState
from logpilot_dagster.mining.postprocess import Grouping, group_clusters
from logpilot_dagster.mining.render import RenderedTemplate, render
from logpilot_dagster.mining.tokenize import drain_content, mask_message, signature_tokens

Masked = tuple[str, list[str]]


class SourceMiner:
    def __init__(self, config: MinerConfig, state: SourceState | None = None) -> None:
        self._config = config
        if state is None:
            self._miner = TemplateMiner(config=config.to_drain3())
        else:
            # Drain3 restores its tree from a persistence handler; detach it afterwards so learning
            # does not snapshot the whole tree on every change (LogPilot saves explicitly).
            buffer = MemoryBufferPersistence()
            buffer.state = state.drain3_snapshot.encode("ascii")
            self._miner = TemplateMiner(persistence_handler=buffer, config=config.to_drain3())
            self._miner.persistence_handler = None
        self._drain = self._miner.drain
        self._examples: dict[int, str] = dict(state.examples) if state else {}
        self._cluster_of: dict[str, LogCluster] = {}
        self._grouping: Grouping | None = None
        self._rendered: dict[str, tuple[str, RenderedTemplate]] = {}

    # -- learning ---------------------------------------------------------------------------------

    def mask(self, messages: Iterable[str]) -> list[Masked]:
        max_head = self._config.max_head_chars
        return [mask_message(message, max_head) for message in messages]

    def learn(self, messages: Iterable[str], masked: Iterable[Masked] | None = None) -> None:
        max_head = self._config.max_head_chars
        cluster_of = self._cluster_of
        evicting = self._config.max_clusters is not None
        id_to_cluster = self._drain.id_to_cluster
        if masked is None:
            masked = (mask_message(message, max_head) for message in messages)
        for message, (signature, _) in zip(messages, masked, strict=False):
            cluster = cluster_of.get(signature)
            if cluster is not None and not (evicting and cluster.cluster_id not in id_to_cluster):
                # Same signature, same cluster: Drain3 would not change the template, only count it.
                cluster.size += 1
                continue
            self._learn_new(signature, message)

    def _learn_new(self, signature: str, message: str) -> LogCluster:
        if len(self._cluster_of) >= self._config.max_cached_signatures:
            self._cluster_of.clear()
        cluster, change = self._drain.add_log_message(drain_content(signature, signature_tokens(signature)))
        self._cluster_of[signature] = cluster
        if change != "none":
            self._grouping = None
            self._rendered.clear()
        if change == "cluster_created":
            self._examples[cluster.cluster_id] = message
        return cluster

    # -- matching ---------------------------------------------------------------------------------

    def match(self, messages: Sequence[str], masked: Sequence[Masked] | None = None) -> list[tuple[int, str, list[str]]]:
        """(group id, template, params) per message, without creating clusters for known events."""
        if masked is None:
            masked = self.mask(messages)
        results = []
        rendered = self._rendered
        for message, (signature, values) in zip(messages, masked, strict=True):
            entry = rendered.get(signature)
            if entry is None:
                entry = self._render(signature, message)
            group_id, template = entry
            results.append((group_id, template.template, template.params(values)))
        return results

    def _render(self, signature: str, message: str) -> tuple[int, RenderedTemplate]:
        cluster = self._cluster_of.get(signature)
        if cluster is None or cluster.cluster_id not in self._drain.id_to_cluster:
            spans = signature_tokens(signature)
            # Exact match first; a message no template covers is learned (match never returns None).
            cluster = self._drain.match(drain_content(signature, spans), "fallback")
            if cluster is None:
                cluster = self._learn_new(signature, message)
            else:
                self._cluster_of[signature] = cluster
        grouping = self.grouping()
        group_id = grouping.group_of[cluster.cluster_id]
        template = render(
            signature,
            signature_tokens(signature),
            cluster.log_template_tokens,
            join_spaced_wildcards=group_id in grouping.variable_length,
        )
        entry = (group_id, template)
        self._rendered[signature] = entry
        return entry

    # -- templates and state ----------------------------------------------------------------------

    def grouping(self) -> Grouping:
        if self._grouping is None:
            clusters = list(self._drain.clusters)
            if self._config.merge_templates:
                self._grouping = group_clusters(clusters)
            else:
                self._grouping = Grouping({c.cluster_id: c.cluster_id for c in clusters}, frozenset())
        return self._grouping

    def templates(self) -> list[tuple[int, str, int, str]]:
        """(group id, template, count, example) per group, largest first."""
        grouping = self.grouping()
        counts: dict[int, int] = {}
        for cluster in self._drain.clusters:
            group_id = grouping.group_of[cluster.cluster_id]
            counts[group_id] = counts.get(group_id, 0) + cluster.size
        result = []
        for group_id, count in counts.items():
            example = self._examples.get(group_id, "")
            signature, _ = mask_message(example, self._config.max_head_chars)
            _, template = self._render(signature, example)
            result.append((group_id, template.template, count, example))
        return sorted(result, key=lambda row: (-row[2], row[0]))

    def state(self) -> SourceState:
        buffer = MemoryBufferPersistence()
        self._miner.persistence_handler = buffer
        try:
            self._miner.save_state("logpilot save")
        finally:
            self._miner.persistence_handler = None
        return SourceState(buffer.state.decode("ascii"), dict(self._examples))
