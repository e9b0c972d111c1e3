"""The label set: which categories a log line can get, the tiers that decide them, and the marker for lines
no tier could settle."""

from __future__ import annotations

# The categories the sample generator writes ground truth for; the default when a user brings no labels.
DEFAULT_LABELS: list[str] = [
    "HTTP Status",
    "Critical Error",
    "Security Alert",
    "Error",
    "System Notification",
    "Resource Usage",
    "User Action",
    "Workflow Error",
    "Deprecation Warning",
]

UNCLASSIFIED = "unclassified"

# The tier that decided a label: the classify CSV's `tier` column and `templates.label_tier`.
TIER_RULES = "rules"
TIER_MODEL = "model"
TIER_LLM = "llm"
TIER_HUMAN = "human"
TIER_UNCLASSIFIED = "unclassified"
TIERS: tuple[str, ...] = (TIER_RULES, TIER_MODEL, TIER_LLM, TIER_HUMAN, TIER_UNCLASSIFIED)

# Sources routed straight to the LLM, skipping the model (a legacy system whose logs look like nothing else).
# None by default: the model handles the sample's legacy_crm once trained on its templates; name sources in
# `ClassifierConfig.llm_sources` (or the router's `llm_sources`) to route them.
DEFAULT_LLM_SOURCES: frozenset[str] = frozenset()
