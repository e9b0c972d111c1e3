"""A line's template key: the message with its variable parts masked, cheap enough to compute per line.

Lines with the same key get the same label, so the router decides once per key and every later line is a
dictionary lookup; the model is trained on and applied to keys too, so its answer depends only on the key.
When the miner's template id is known it is a better key, and callers pass it instead.
"""

from __future__ import annotations

import re

PLACEHOLDER = "<*>"  # the same placeholder as Drain3 templates, so keys and templates read alike

# Timestamps, UUIDs, 0x-hex, long hex ids, then any number (IPs, versions and durations included).
_VARIABLE = re.compile(
    r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?"
    r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|0x[0-9a-fA-F]+"
    r"|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"
    r"|[-+]?\d+(?:[.,:]\d+)*"
)
_DIGIT = re.compile(r"\d")


def template_key(message: str) -> str:
    # Per token, and only tokens with a digit: most tokens are words, and skipping them doubles the speed.
    return " ".join(
        [_VARIABLE.sub(PLACEHOLDER, token) if _DIGIT.search(token) else token for token in message.split()]
    )
