"""The words a question may use for a filter value, read from the warehouse itself.

Sources, levels and labels come from the distinct values in `logs_labelled`; departments, criticalities and
owners from `system_catalog`. Each value gets the phrasings people use for it ("billing system" and
"billingsystem" for BillingSystem, "warnings" for WARN, "security alerts" for Security Alert, "critical
systems" for criticality critical), and the parser matches the longest phrase first, so "critical errors"
is the label, "critical systems" the criticality and "critical" alone the level.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import duckdb

# Level synonyms → the normalised level they mean (only kept when the warehouse has that level).
LEVEL_WORDS = {
    "debug": "DEBUG", "info": "INFO", "informational": "INFO", "notice": "INFO",
    "warn": "WARN", "warning": "WARN", "warnings": "WARN", "warns": "WARN",
    "error": "ERROR", "errors": "ERROR", "err": "ERROR",
    "critical": "CRITICAL", "crit": "CRITICAL", "fatal": "CRITICAL", "fatals": "CRITICAL",
}
CRITICALITY_NOUNS = ("systems", "system", "sources", "source", "services", "service", "apps", "applications")


@dataclass(frozen=True)
class Term:
    dimension: str  # source | level | label | department | criticality | template
    value: str
    phrase: tuple[str, ...]


@dataclass
class Vocabulary:
    terms: list[Term] = field(default_factory=list)
    values: dict[str, list[str]] = field(default_factory=dict)  # dimension → distinct values
    owners: dict[str, str] = field(default_factory=dict)  # system → owner email
    by_first: dict[str, list[Term]] = field(default_factory=dict)

    def add(self, dimension: str, value: str, phrase: str) -> None:
        words = tuple(tokens(phrase))
        if words:
            self.terms.append(Term(dimension, value, words))

    def index(self) -> Vocabulary:
        self.by_first = {}
        seen = set()
        for term in sorted(self.terms, key=lambda t: -len(t.phrase)):
            key = (term.dimension, term.value, term.phrase)
            if key not in seen:
                seen.add(key)
                self.by_first.setdefault(term.phrase[0], []).append(term)
        return self

    def longest_at(self, words: list[str], i: int) -> list[Term]:
        """The terms whose phrase starts at `words[i]`, longest phrase first (all of that length)."""
        best: list[Term] = []
        for term in self.by_first.get(words[i], []):
            n = len(term.phrase)
            if tuple(words[i:i + n]) == term.phrase:
                if not best or n == len(best[0].phrase):
                    best.append(term)
                elif n > len(best[0].phrase):
                    best = [term]
        return best


def tokens(text: str) -> list[str]:
    """Lower-case words; `_`, `.`, `&`, `-`, `@` and `:` stay inside a word (app_json, nova.compute, nova:12)."""
    return re.findall(r"[a-z0-9][a-z0-9_.&@:/-]*[a-z0-9]|[a-z0-9&]", text.lower())


def _split_camel(name: str) -> str:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name)
    return spaced.replace("_", " ")


def _plural(word: str) -> str:
    return word + ("es" if word.endswith(("s", "x", "ch", "sh")) else "s")


def build_vocabulary(con: duckdb.DuckDBPyConnection) -> Vocabulary:
    """From a (guarded, read-only) warehouse connection."""
    vocab = Vocabulary()
    sources = [s for s, in con.execute("SELECT DISTINCT source FROM logs_labelled WHERE source IS NOT NULL "
                                       "ORDER BY 1").fetchall()]
    levels = [s for s, in con.execute("SELECT DISTINCT level FROM logs_labelled WHERE level IS NOT NULL "
                                      "ORDER BY 1").fetchall()]
    labels = [s for s, in con.execute("SELECT DISTINCT label FROM logs_labelled WHERE label IS NOT NULL "
                                      "ORDER BY 1").fetchall()]
    catalog = con.execute("SELECT system_name, department, owner_email, criticality FROM system_catalog "
                          "ORDER BY 1").fetchall()
    vocab.values = {"source": sources, "level": levels, "label": labels,
                    "department": sorted({r[1] for r in catalog if r[1]}),
                    "criticality": sorted({r[3] for r in catalog if r[3]}),
                    "system": sorted({r[0] for r in catalog})}
    vocab.owners = {r[0]: r[2] for r in catalog if r[2]}
    for source in sorted(set(sources) | set(vocab.values["system"])):
        for phrase in {source, _split_camel(source), source.replace("_", " ")}:
            vocab.add("source", source, phrase)
    for word, level in LEVEL_WORDS.items():
        if level in levels:
            vocab.add("level", level, word)
    for level in levels:
        vocab.add("level", level, level)
    for label in labels:
        words = label.lower()
        vocab.add("label", label, words)
        last = words.split()[-1]
        vocab.add("label", label, " ".join(words.split()[:-1] + [_plural(last)]))
        vocab.add("label", label, f"{words} label")
        vocab.add("label", label, f"labelled {words}")
        vocab.add("label", label, f"labeled {words}")
        vocab.add("label", label, f"label {words}")
    if "Deprecation Warning" in labels:
        vocab.add("label", "Deprecation Warning", "deprecations")
        vocab.add("label", "Deprecation Warning", "deprecated")
    if "HTTP Status" in labels:
        vocab.add("label", "HTTP Status", "http status lines")
        vocab.add("label", "HTTP Status", "http requests")
    for department in vocab.values["department"]:
        words = department.lower()
        for phrase in (words, words.replace("&", "and"), f"{words} department", f"{words} team",
                       f"department {words}"):
            vocab.add("department", department, phrase)
    for level in vocab.values["criticality"]:
        words = level.lower()
        for noun in CRITICALITY_NOUNS:
            vocab.add("criticality", level, f"{words} {noun}")
            vocab.add("criticality", level, f"{words} criticality {noun}")
            vocab.add("criticality", level, f"{words}-criticality {noun}")
            vocab.add("criticality", level, f"{noun} with {words} criticality")
        vocab.add("criticality", level, f"{words} criticality")
        vocab.add("criticality", level, f"{words}-criticality")
        vocab.add("criticality", level, f"criticality {words}")
    return vocab.index()
