"""The label set: which categories a log line can get, and the markers for lines no tier could settle."""

from __future__ import annotations

# The categories the sample generator writes ground truth for; the default when a user brings no labels.
DEFAULT_LABELS: tuple[str, ...] = (
    "HTTP Status",
    "Critical Error",
    "Security Alert",
    "Error",
    "System Notification",
    "Resource Usage",
    "User Action",
    "Workflow Error",
    "Deprecation Warning",
)

UNCLASSIFIED = "unclassified"

# The tier that decided a label; stored in `templates.label_tier` and in the classify CSV's `tier` column.
TIER_RULE = "rule"
TIER_MODEL = "model"
TIER_LLM = "llm"
TIER_HUMAN = "human"
TIER_NONE = "none"

# Sources whose logs look like nothing else, so the model's guess is not worth trusting: straight to the LLM.
DEFAULT_LLM_SOURCES: frozenset[str] = frozenset({"legacy_crm", "LegacyCRM"})
