"""Drain3's `Drain`, with similarity measured on wording only.

Masked values reach Drain3 as the token `<V>` (see `tokenize`). Stock Drain counts two `<V>` tokens as
similar words, so a short message made mostly of values (`<V> "GET <V>" status: <V> len: <V>`) looks
like any other message of the same shape, and different events (GET and POST) merge at any threshold
that still lets free-text variables generalise. Here a position where template and message both hold a
masked value counts neither for nor against: similarity is the share of *wording* tokens that agree.
A unit after a masked value (`VALUE_LIKE_MARK` + unit, see `tokenize`) counts like a value. A kept
constant (`CONSTANT_MARK` + word, see `constants`) names the event's variant: a message whose constant
differs from the template's (or meets a wildcard there) is not similar at all.
Everything else (the prefix tree, cluster creation, template generalisation, persistence) is Drain3's.
"""

from __future__ import annotations

from drain3.drain import Drain

from logpilot_dagster.mining.template_text import WILDCARD
from logpilot_dagster.mining.tokenize import CONSTANT_MARK, VALUE_LIKE_MARK


class ValueAwareDrain(Drain):
    def get_seq_distance(self, seq1, seq2, include_params: bool):  # noqa: ANN001 - Drain3's signature
        value_like = VALUE_LIKE_MARK
        wildcard = WILDCARD
        similar = 0
        params = 0
        words = 0
        for template_token, token in zip(seq1, seq2, strict=True):
            if template_token == token:
                if template_token[0] != value_like:
                    similar += 1
                    words += 1
            elif token[0] == CONSTANT_MARK or template_token[0] == CONSTANT_MARK:
                return 0.0, params
            elif template_token == wildcard:
                params += 1
                words += 1
            elif token[0] != value_like or template_token[0] != value_like:
                words += 1
        if include_params:
            similar += params
        if words == 0:
            return 1.0, params
        return similar / words, params
