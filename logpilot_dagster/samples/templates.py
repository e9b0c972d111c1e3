"""Message templates for sample logs: wording with typed variable slots, a category label, a level.

A template such as `Accepted password for {user} from {client} port {port} ssh2` is parsed once into
literal pieces and slot generators; rendering fills the slots from a `random.Random`. The ground-truth
form replaces every slot with `<*>`. Slots named in `values.PII_SLOTS` render personal data only when the
record is chosen to carry it, and a harmless stand-in otherwise, so the wording (and the label) of a
template does not depend on whether the line holds personal data.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

from logpilot_dagster.classify.labels import DEFAULT_LABELS as _LABELS
from logpilot_dagster.mining.template_text import WILDCARD
from logpilot_dagster.samples import values

# The categories every template maps to: `classify.labels.DEFAULT_LABELS`, named one by one.
HTTP_STATUS = "HTTP Status"
CRITICAL_ERROR = "Critical Error"
SECURITY_ALERT = "Security Alert"
ERROR = "Error"
SYSTEM_NOTIFICATION = "System Notification"
RESOURCE_USAGE = "Resource Usage"
USER_ACTION = "User Action"
WORKFLOW_ERROR = "Workflow Error"
DEPRECATION_WARNING = "Deprecation Warning"

DEFAULT_LABELS: list[str] = list(_LABELS)
assert set(DEFAULT_LABELS) == {HTTP_STATUS, CRITICAL_ERROR, SECURITY_ALERT, ERROR, SYSTEM_NOTIFICATION,
                               RESOURCE_USAGE, USER_ACTION, WORKFLOW_ERROR, DEPRECATION_WARNING}

# Labels whose lines cluster in incident bursts.
INCIDENT_LABELS = frozenset({CRITICAL_ERROR, SECURITY_ALERT, ERROR, WORKFLOW_ERROR})

_SLOT = re.compile(r"\{([a-z_0-9]+)(?::([^{}]*))?\}")


@dataclass(eq=False)
class Template:
    """One kind of log message. `extra` holds what a source needs to print it (component, service...)."""

    label: str
    level: str
    weight: float
    text: str
    extra: dict[str, Any] = field(default_factory=dict)
    template_id: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        if self.label not in DEFAULT_LABELS:
            raise ValueError(f"unknown label {self.label!r} in template {self.text!r}")
        self._parts: list[str] = []
        self._slots: list[tuple[int, values.Gen]] = []
        self._pii: list[tuple[int, str, values.Gen, values.Gen]] = []
        truth: list[str] = []
        last = 0
        for m in _SLOT.finditer(self.text):
            literal = self.text[last:m.start()]
            self._parts.append(literal)
            truth.append(literal)
            name, arg = m.group(1), m.group(2)
            index = len(self._parts)
            self._parts.append("")
            truth.append(WILDCARD)
            if name in values.PII_SLOTS:
                kind, real, stand_in = values.PII_SLOTS[name]
                self._pii.append((index, kind, real, stand_in))
            elif name in values.SLOT_FACTORIES:
                self._slots.append((index, values.SLOT_FACTORIES[name](arg or "")))
            elif name in values.PLAIN_SLOTS:
                self._slots.append((index, values.PLAIN_SLOTS[name]))
            else:
                raise ValueError(f"unknown slot {{{name}}} in template {self.text!r}")
            last = m.end()
        tail = self.text[last:]
        self._parts.append(tail)
        truth.append(tail)
        self.truth = "".join(truth)
        self.can_hold_pii = bool(self._pii)
        self.incident = self.label in INCIDENT_LABELS

    def render(self, rng: random.Random, pii: bool = False) -> tuple[str, tuple[str, ...]]:
        """The message text and the kinds of personal data in it (sorted, no repeats)."""
        parts = self._parts.copy()
        for index, gen in self._slots:
            parts[index] = gen(rng)
        if not self._pii:
            return "".join(parts), ()
        kinds: set[str] = set()
        for index, kind, real, stand_in in self._pii:
            if pii:
                parts[index] = real(rng)
                kinds.add(kind)
            else:
                parts[index] = stand_in(rng)
        return "".join(parts), tuple(sorted(kinds))


def t(label: str, level: str, weight: float, text: str, **extra: Any) -> Template:
    """Shorthand used by the template tables."""
    return Template(label, level, weight, text, extra)
