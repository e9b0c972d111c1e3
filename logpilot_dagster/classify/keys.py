"""A line's template key: the message with its variable parts masked, cheap enough to compute per line.

Lines with the same key get the same label, so the router decides once per key and every later line is a
dictionary lookup; the model is trained on and applied to keys too, so its answer depends only on the key.
When the miner's template id is known it is a better key, and callers pass it instead.
"""

from __future__ import annotations

import re

PLACEHOLDER = "<*>"  # the same placeholder as Drain3 templates, so keys and templates read alike

# Timestamps, UUIDs, 0x-hex, long hex ids, e-mail addresses, host names, long opaque tokens (keys,
# fingerprints), then any number (IPs, versions and durations included). No leading sign on numbers: in
# `req-1a2b...` the `-1` must not be taken before the UUID gets its chance.
_VARIABLE = re.compile(
    r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?"
    r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|0x[0-9a-fA-F]+"
    r"|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"
    r"|[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+"
    r"|\b[A-Za-z][\w\-]*\d[\w\-]*(?:\.[A-Za-z][\w\-]*){2,}"
    r"|(?=[A-Za-z0-9+/=]*\d)(?=[A-Za-z0-9+/=]*[a-z])(?=[A-Za-z0-9+/=]*[A-Z])[A-Za-z0-9+/=]{16,}"
    r"|\d+(?:[.,:]\d+)*"
)
_WORTH_MASKING = re.compile(r"[\d@]")


def template_key(message: str) -> str:
    # Per token, and only tokens with a digit or an @: most tokens are words, and skipping them doubles the speed.
    return " ".join(
        [_VARIABLE.sub(PLACEHOLDER, token) if _WORTH_MASKING.search(token) else token for token in message.split()]
    )
