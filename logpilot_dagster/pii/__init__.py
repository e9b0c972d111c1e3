"""Personal data and secrets in logs: detect and mask them (`masking`), audit stored data for leaks (`audit`)."""

from logpilot_dagster.pii.masking import (
    KINDS,
    TOKENS,
    PiiMatch,
    contains_pii,
    find_pii,
    mask,
    mask_stream,
    mask_with_counts,
)

__all__ = [
    "KINDS",
    "TOKENS",
    "PiiMatch",
    "contains_pii",
    "find_pii",
    "mask",
    "mask_stream",
    "mask_with_counts",
]
