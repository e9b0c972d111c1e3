"""Drain3's `Drain`, with similarity measured on wording only.

Masked values reach Drain3 as the token `<V>` (see `tokenize`). Stock Drain counts two `<V>` tokens as
similar words, so a short message made mostly of values (`<V> "GET <V>" status: <V> len: <V>`) looks
like any other message of the same shape, and different events (GET and POST) merge at any threshold
that still lets free-text variables generalise. Here a position where template and message both hold a
masked value counts neither for nor against: similarity is the share of *wording* tokens that agree.
Everything else (the prefix tree, cluster creation, template generalisation, persistence) is Drain3's.
"""

from __future__ import annotations

from drain3.drain import Drain

from logpilot_dagster.mining.config import WILDCARD
from logpilot_dagster.mining.tokenize import DRAIN_VALUE_TOKEN


class ValueAwareDrain(Drain):
    def get_seq_distance(self, seq1, seq2, include_params: bool):  # noqa: ANN001 - Drain3's signature
        value = DRAIN_VALUE_TOKEN
        wildcard = WILDCARD
        similar = 0
        params = 0
        words = 0
        for template_token, token in zip(seq1, seq2, strict=True):
            if template_token == token:
                if template_token != value:
                    similar += 1
                    words += 1
            elif template_token == wildcard:
                params += 1
                words += 1
            else:
                words += 1
        if include_params:
            similar += params
        if words == 0:
            return 1.0, params
        return similar / words, params
