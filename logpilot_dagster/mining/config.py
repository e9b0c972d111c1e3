"""The one shipped configuration of the template miner, and its translation into Drain3's config."""

from __future__ import annotations

from dataclasses import dataclass

from drain3.template_miner_config import TemplateMinerConfig


@dataclass(frozen=True)
class MinerConfig:
    """Settings of LogPilot's miner. The defaults are the configuration the platform ships and benchmarks.

    - `sim_th`, `depth`, `max_children`, `max_clusters`: Drain3's own knobs (see drain3.Drain). The
      similarity is measured on wording only (see `engine`), so the threshold is strict: two messages
      with different words are one event only if nearly all their words agree; `postprocess` joins
      what is one event with evidence (shape, wildcards, words seen as values).
    - `max_head_chars`: only the first line of a message, cut at this many characters, is mined; the rest
      (a stack trace, a dumped payload) becomes one trailing `<*>` so long messages cost no more than short ones.
    - `merge_templates`: merge clusters that are one event after mining (see `postprocess`).
    - `max_cached_signatures`: per source, how many distinct masked messages are remembered so a repeat
      needs no tree walk; the cache is dropped and rebuilt when it fills.
    - `max_cached_shapes`: per source, how many shapes (messages equal but for their digits, see `shapes`)
      are remembered so a message of a known shape needs no masking regex; dropped and rebuilt when full.
    - `max_value_words`: per source, how many distinct word-like masked values are remembered as
      evidence for merging (see `postprocess`).
    - `max_constant_values`, `min_constant_count`: a key whose values are at most this many plain words,
      seen at least `min_constant_count` times per value, is an enumeration whose value names the event's
      variant (`tty=NODEVssh`, `auth:SIMPLE`); its values are kept as wording (see `constants`).
    """

    sim_th: float = 0.9
    depth: int = 4
    max_children: int = 100
    max_clusters: int | None = None
    max_head_chars: int = 2000
    merge_templates: bool = True
    max_cached_signatures: int = 200_000
    max_cached_shapes: int = 50_000
    max_value_words: int = 50_000
    max_constant_values: int = 4
    min_constant_count: int = 10

    def to_drain3(self) -> TemplateMinerConfig:
        """An explicit Drain3 config: never let Drain3 read a `drain3.ini` from the working directory."""
        config = TemplateMinerConfig()
        config.drain_sim_th = self.sim_th
        config.drain_depth = self.depth
        config.drain_max_children = self.max_children
        config.drain_max_clusters = self.max_clusters
        config.drain_extra_delimiters = []
        # Masking happens before Drain3 (see `tokenize`); its own regex masker stays empty.
        config.masking_instructions = []
        config.parametrize_numeric_tokens = True
        config.snapshot_compress_state = True
        config.profiling_enabled = False
        return config
