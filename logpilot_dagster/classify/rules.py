"""Tier 1: regex rules from a TOML file, label per pattern, for one source, a few, or all of them.

Rules are applied before anything else and are trusted fully (confidence 1.0), so they should be precise;
the model and the LLM handle the rest. See `default_rules.toml` for the file format.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

DEFAULT_RULES_FILE = "default_rules.toml"
_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}


class RulesError(ValueError):
    """A rules file that cannot be used, with a message that says where and why."""


@dataclass(frozen=True)
class Rule:
    name: str
    label: str
    pattern: re.Pattern[str]
    sources: frozenset[str] | None  # casefolded; None means every source

    def matches(self, source: str, message: str) -> bool:
        if self.sources is not None and source.casefold() not in self.sources:
            return False
        return self.pattern.search(message) is not None


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...] = ()
    origin: str = "no rules"

    @classmethod
    def load(cls, path: str | Path) -> RuleSet:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise RulesError(f"cannot read rules file {path}: {err.strerror or err}") from err
        return cls.parse(text, origin=str(path))

    @classmethod
    def default(cls) -> RuleSet:
        text = resources.files(__package__).joinpath(DEFAULT_RULES_FILE).read_text(encoding="utf-8")
        return cls.parse(text, origin=f"packaged {DEFAULT_RULES_FILE}")

    @classmethod
    def parse(cls, text: str, origin: str) -> RuleSet:
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise RulesError(f"{origin}: not valid TOML: {err}") from err
        entries = document.get("rule", [])
        if not isinstance(entries, list):
            raise RulesError(f"{origin}: expected [[rule]] tables")
        return cls(tuple(_parse_rule(entry, index, origin) for index, entry in enumerate(entries, 1)), origin)

    @property
    def labels(self) -> set[str]:
        return {rule.label for rule in self.rules}

    def __len__(self) -> int:
        return len(self.rules)

    def first_match(self, source: str, message: str) -> Rule | None:
        for rule in self.rules:
            if rule.matches(source, message):
                return rule
        return None

    def restricted_to(self, labels: Iterable[str]) -> tuple[RuleSet, list[Rule]]:
        """The rules whose label is in `labels`, and the ones left out (a model trained on another label set)."""
        allowed = set(labels)
        kept = tuple(rule for rule in self.rules if rule.label in allowed)
        dropped = [rule for rule in self.rules if rule.label not in allowed]
        return RuleSet(kept, self.origin), dropped


def _parse_rule(entry: object, index: int, origin: str) -> Rule:
    where = f"{origin}: rule #{index}"
    if not isinstance(entry, dict):
        raise RulesError(f"{where}: expected a table with label and pattern")
    label, pattern = entry.get("label"), entry.get("pattern")
    if not isinstance(label, str) or not label.strip():
        raise RulesError(f"{where}: 'label' must be a non-empty string")
    if not isinstance(pattern, str) or not pattern:
        raise RulesError(f"{where}: 'pattern' must be a non-empty string")
    flags = entry.get("flags", "")
    if not isinstance(flags, str) or set(flags) - set(_FLAGS):
        raise RulesError(f"{where}: 'flags' must be a string of {''.join(_FLAGS)}")
    try:
        compiled = re.compile(pattern, sum((_FLAGS[f] for f in set(flags)), re.NOFLAG))
    except re.error as err:
        raise RulesError(f"{where}: pattern {pattern!r} is not a valid regex: {err}") from err
    sources = entry.get("sources")
    if isinstance(sources, str):
        sources = [sources]
    if sources is not None and (not isinstance(sources, list) or not all(isinstance(s, str) for s in sources)):
        raise RulesError(f"{where}: 'sources' must be a list of source names")
    name = entry.get("name") or f"rule-{index}"
    return Rule(
        name=str(name),
        label=label.strip(),
        pattern=compiled,
        sources=frozenset(s.casefold() for s in sources) if sources is not None else None,
    )
