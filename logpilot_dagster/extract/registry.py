"""The schema registry: per-template regexes with named keys, persisted as JSON under `registry/`.

A template's pattern is derived from its text: each `<*>` slot with a key before it (`port <*>`,
`user=<*>`, `status: <*>`) becomes a named group; slots without a key stay parameters, not pairs. Patterns
may also come from the LLM or a person; every pattern is validated against example lines before it is
kept (it must match them and leave nothing key-value-like unparsed).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from logpilot_dagster.extract.kv import extract_kv, unparsed_pairs
from logpilot_dagster.mining.template_text import WILDCARD

REGISTRY_FILE = "kv_patterns.json"
FORMAT_VERSION = 1

# Words that sit before a value but are not its name ("from <*>", "after <*> retries").
NOT_KEYS = frozenset({
    "a", "an", "the", "to", "from", "for", "of", "in", "on", "at", "by", "with", "after", "before", "than", "as",
    "is", "was", "are", "were", "be", "been", "and", "or", "not", "no", "into", "onto", "via", "per", "over", "under",
})
_KEY_WORD = re.compile(r"^[A-Za-z_][\w.\-]*$")
_SLOT_IN_TOKEN = re.compile(r"^(?P<key>[A-Za-z_][\w.\-]*)(?P<sep>=|:)(?P<rest>.*)$")


@dataclass(frozen=True)
class KVPattern:
    """A full-line regex with groups `k0`, `k1`, ... and the key each group fills."""

    template_id: str
    regex: str
    keys: tuple[str, ...]
    origin: str = "template"  # template | llm | human

    def extract(self, message: str) -> dict[str, str] | None:
        match = _compiled(self.regex).fullmatch(message)
        if match is None:
            return None
        return {key: match.group(f"k{i}") for i, key in enumerate(self.keys)}


def derive_pattern(template_id: str, template: str) -> KVPattern | None:
    """The pattern of a template's keyed slots, or None when no slot has a key."""
    tokens = template.split(" ")
    parts: list[str] = []
    keys: list[str] = []
    previous = ""
    for token in tokens:
        if WILDCARD not in token:
            parts.append(re.escape(token))
            previous = token
            continue
        keyed = _SLOT_IN_TOKEN.match(token)
        if keyed and keyed.group("rest").startswith(WILDCARD):
            # key=<*> / key:<*> inside one token
            key = keyed.group("key")
            parts.append(re.escape(key + keyed.group("sep")) + _slots(keyed.group("rest"), keys, key))
        else:
            key = _key_before(previous)
            parts.append(_slots(token, keys, key))
        previous = token
    if not keys:
        return None
    regex = r"\s+".join(parts)
    return KVPattern(template_id, regex, tuple(keys_named(keys)))


def _key_before(previous: str) -> str | None:
    """`port` in `port <*>`, `status` in `status: <*>`; None for `from <*>` or punctuation."""
    word = previous.rstrip(":=")
    if not _KEY_WORD.match(word):
        return None
    if previous.endswith((":", "=")):
        return word
    return word if word.lower() not in NOT_KEYS and len(word) > 1 else None


def _slots(token: str, keys: list, key: str | None) -> str:
    """A token with one or more `<*>` slots: the first slot gets `key`, others are anonymous."""
    pieces = token.split(WILDCARD)
    out = [re.escape(pieces[0])]
    for piece in pieces[1:]:
        if key is not None:
            out.append(f"(?P<k{len(keys)}>\\S+?)")
            keys.append(key)
            key = None
        else:
            out.append(r"\S+?")
        out.append(re.escape(piece))
    return "".join(out)


def keys_named(keys: list) -> list[str]:
    """Distinct names for repeated keys: `port`, `port_2`."""
    seen: dict[str, int] = {}
    named = []
    for key in keys:
        seen[key] = seen.get(key, 0) + 1
        named.append(key if seen[key] == 1 else f"{key}_{seen[key]}")
    return named


def validate(pattern: KVPattern, examples: list[str]) -> list[str]:
    """Problems with a pattern on example lines: no match, or pair-like text that nothing parsed."""
    problems = []
    for message in examples:
        found = pattern.extract(message)
        if found is None:
            problems.append(f"does not match {message[:80]!r}")
            continue
        left = leftover_pairs(message, {**extract_kv(message), **found})
        if left:
            problems.append(f"leaves {left[:3]} unparsed in {message[:80]!r}")
    return problems


def leftover_pairs(message: str, kv: dict[str, str]) -> list[str]:
    """Key-value-like fragments of `message` whose key is not among the extracted keys."""
    keys = {k.lower() for k in kv}
    return [fragment for fragment in unparsed_pairs(message)
            if re.split(r"\s?[=:]", fragment, maxsplit=1)[0].strip().lower() not in keys]


class PatternRegistry:
    """Patterns by template id, loaded from and saved to `registry/kv_patterns.json` (write-then-rename)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else None
        self.patterns: dict[str, KVPattern] = {}
        self._lock = threading.Lock()
        if self.path and self.path.is_file():
            document = json.loads(self.path.read_text(encoding="utf-8"))
            for entry in document.get("patterns", []):
                pattern = KVPattern(entry["template_id"], entry["regex"], tuple(entry["keys"]), entry["origin"])
                self.patterns[pattern.template_id] = pattern

    @classmethod
    def in_folder(cls, registry_dir: str | Path) -> PatternRegistry:
        return cls(Path(registry_dir) / REGISTRY_FILE)

    def learn_templates(self, templates: dict[str, str], examples: dict[str, list[str]] | None = None) -> int:
        """Derive patterns for templates that have none yet; keep those that validate. Returns how many."""
        added = 0
        for template_id, template in templates.items():
            if template_id in self.patterns:
                continue
            pattern = derive_pattern(template_id, template)
            if pattern is None:
                continue
            if examples and examples.get(template_id) and validate(pattern, examples[template_id]):
                continue
            self.add(pattern)
            added += 1
        return added

    def add(self, pattern: KVPattern) -> None:
        _compiled(pattern.regex)  # refuse a broken regex early
        with self._lock:
            self.patterns[pattern.template_id] = pattern

    def extract(self, template_id: str | None, message: str) -> dict[str, str]:
        """Generic pairs, overlaid with the template's named groups when its pattern matches."""
        kv = extract_kv(message)
        pattern = self.patterns.get(template_id) if template_id else None
        if pattern is not None:
            found = pattern.extract(message)
            if found:
                kv.update(found)
        return kv

    def save(self) -> Path | None:
        if self.path is None:
            return None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {"format_version": FORMAT_VERSION,
                    "patterns": [asdict(p) for p in sorted(self.patterns.values(), key=lambda p: p.template_id)]}
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(document, indent=1), encoding="utf-8")
        tmp.replace(self.path)
        return self.path


_CACHE: dict[str, re.Pattern[str]] = {}


def _compiled(regex: str) -> re.Pattern[str]:
    compiled = _CACHE.get(regex)
    if compiled is None:
        compiled = _CACHE[regex] = re.compile(regex, re.DOTALL)
    return compiled
