"""What a template's text means: literal text with `<*>` where a parameter stands."""

from __future__ import annotations

import re

WILDCARD = "<*>"


def template_regex(template: str) -> str:
    """A template as an anchored regex: literal text escaped, each `<*>` a lazy group."""
    return "^" + "(.*?)".join(re.escape(part) for part in template.split(WILDCARD)) + "$"
