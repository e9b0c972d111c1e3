"""Schema discovery for templates the live miner created: a regex with named groups per new template.

A proposal comes from the template itself (each `<*>` a named group, typed by the values seen in its sample
lines) or, when that fails and an LLM is configured, from the LLM (a JSON reply, validated like any other).
A proposal is kept only if it passes strict validation:
  - it compiles, and has a named group per wildcard of the template;
  - it matches every sample line of its template, in full;
  - it matches none of the lines of the source's other templates (not over-broad);
  - it is not catastrophically slow: no nested quantifiers, and every match on long, near-miss inputs ends
    within a time limit (patterns run on the `regex` engine, which can be interrupted).
The registry (`registry/schema_registry.json`) records who proposed each accepted pattern, and keeps rejected
proposals with their reason. Templates already in the registry are never proposed again, so live lines of
known formats never wait on the LLM.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import regex as re_engine
from pydantic import BaseModel

from logpilot_dagster.extract.registry import _key_before, keys_named
from logpilot_dagster.mining.template_text import WILDCARD
from logpilot_dagster.store.layout import HomeLayout
from logpilot_dagster.store.locks import MINER_WAIT_S, file_lock

FORMAT_VERSION = 1
MATCH_TIMEOUT_S = 0.05  # per match, on inputs up to STRESS_CHARS
STRESS_CHARS = 20_000
MAX_SAMPLES = 20
FILL_BUDGET_S = 2.0  # per batch, for the registry's pairs (validated patterns take microseconds a line)
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)[+*{]")
_GROUP_NAME = re.compile(r"[^0-9A-Za-z_]")
_POSITIONAL = re.compile(r"p_?\d+")  # the names `from_template` gives slots without a key before them


@dataclass(frozen=True)
class Proposal:
    template_id: str
    regex: str
    proposed_by: str  # template | llm | human


@dataclass
class Verdict:
    accepted: bool
    reason: str = ""
    seconds: float = 0.0


# --- proposing ------------------------------------------------------------------------------------------


def from_template(template_id: str, template: str, samples: list[str]) -> Proposal:
    """Literal text escaped; each wildcard a named group (the word before it names it, else `p<i>`), typed
    by the values the sample lines hold there."""
    pieces = template.split(WILDCARD)
    names: list[str] = []
    for i, before in enumerate(pieces[:-1]):
        words = before.rstrip(" =:[(").split()
        key = _key_before(words[-1] + (":" if before.rstrip().endswith((":", "=")) else "")) if words else None
        names.append(_GROUP_NAME.sub("_", key) if key else f"p{i}")
    names = [n if n[0].isalpha() else f"p_{n}" for n in keys_named(names)]
    skeleton = "".join(re.escape(p) + (f"(?P<{names[i]}>.+?)" if i < len(names) else "")
                       for i, p in enumerate(pieces))
    # Type each group by what the samples hold there: digits, a hex id, one token, or free text.
    compiled = re.compile(skeleton, re.DOTALL)
    values: list[list[str]] = [[] for _ in names]
    for line in samples:
        m = compiled.fullmatch(line)
        if m:
            for i, name in enumerate(names):
                values[i].append(m.group(name))
    pattern = "".join(re.escape(p) + (f"(?P<{names[i]}>{_value_class(values[i])})" if i < len(names) else "")
                      for i, p in enumerate(pieces))
    return Proposal(template_id, pattern, "template")


def _value_class(seen: list[str]) -> str:
    if seen and all(v.isdigit() for v in seen):
        return r"\d+"
    if seen and all(re.fullmatch(r"-?\d+(?:\.\d+)?", v) for v in seen):
        return r"-?\d+(?:\.\d+)?"
    if seen and all(re.fullmatch(r"[0-9a-fA-F]+", v) for v in seen):
        return r"[0-9a-fA-F]+"
    if seen and not any(re.search(r"\s", v) for v in seen):
        return r"\S+"
    return r".+?"


class _LLMRegex(BaseModel):
    regex: str


def from_llm(client, template_id: str, template: str, samples: list[str]) -> Proposal:
    """The LLM's regex for the template (raises `LLMUnavailable` when it has none to give)."""
    system = ("You write Python regular expressions for log lines. Reply with JSON {\"regex\": \"...\"}: one "
              "pattern that matches each given line in full, with a named group (?P<name>...) for every "
              "variable part, and nothing else. Avoid nested quantifiers.")
    user = json.dumps({"template": template, "lines": samples[:10]})

    def check(reply: _LLMRegex) -> None:
        re.compile(reply.regex)

    reply = client.ask_json(system, user, _LLMRegex, check)
    return Proposal(template_id, reply.regex, "llm")


# --- validating ----------------------------------------------------------------------------------------


def validate(proposal: Proposal, template: str, samples: list[str], other_lines: list[str],
             timeout_s: float = MATCH_TIMEOUT_S) -> Verdict:
    began = time.perf_counter()

    def no(reason: str) -> Verdict:
        return Verdict(False, reason, time.perf_counter() - began)

    try:
        compiled = re_engine.compile(proposal.regex, re_engine.DOTALL)
    except re_engine.error as exc:
        return no(f"does not compile: {exc}")
    if not samples:
        return no("no sample lines to validate against")
    wildcards = template.count(WILDCARD)
    if len(compiled.groupindex) < wildcards:
        return no(f"{len(compiled.groupindex)} named groups for {wildcards} wildcards")
    if _NESTED_QUANTIFIER.search(proposal.regex):
        return no("slow: nested quantifiers can backtrack catastrophically")
    try:
        for line in samples:
            if compiled.fullmatch(line, timeout=timeout_s) is None:
                return no(f"does not match its sample line {line[:120]!r}")
        for line in other_lines:
            if compiled.fullmatch(line, timeout=timeout_s) is not None:
                return no(f"over-broad: matches another template's line {line[:120]!r}")
        for line in _stress_inputs(samples, compiled):
            compiled.fullmatch(line, timeout=timeout_s)
    except TimeoutError:
        return no(f"slow: a match took over {timeout_s * 1000:.0f} ms on a long input")
    return Verdict(True, "", time.perf_counter() - began)


def _stress_inputs(samples: list[str], compiled) -> list[str]:
    """Long near-misses, where a backtracking pattern spends its time: each group's value of a sample blown
    up to thousands of characters and followed by a character that cannot match; the sample repeated."""
    base = max(samples, key=len)
    inputs = [(base + " ") * max(1, STRESS_CHARS // max(1, len(base))) + "\x00"]
    match = compiled.fullmatch(base)
    for name in compiled.groupindex:
        start, end = match.span(name)
        value = base[start:end] or "a"
        inputs.append(base[:start] + value * max(1, STRESS_CHARS // len(value)) + "\x00" + base[end:])
    return inputs


# --- the registry --------------------------------------------------------------------------------------


@dataclass
class SchemaRegistry:
    path: Path
    accepted: dict[str, dict] = field(default_factory=dict)  # template_id -> entry
    rejected: list[dict] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> SchemaRegistry:
        if not path.is_file():
            return cls(path)
        document = json.loads(path.read_text(encoding="utf-8"))
        return cls(path, document.get("accepted", {}), document.get("rejected", []))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"format_version": FORMAT_VERSION, "accepted": self.accepted,
                                   "rejected": self.rejected}, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(self.path)

    def accept(self, proposal: Proposal, template: str, verdict: Verdict, samples: int) -> None:
        self.accepted[proposal.template_id] = {
            **asdict(proposal), "template": template, "groups": sorted(re.compile(proposal.regex).groupindex),
            "validated_on_lines": samples, "validation_s": round(verdict.seconds, 4), "at": _now()}

    def reject(self, proposal: Proposal, verdict: Verdict) -> None:
        self.rejected.append({**asdict(proposal), "reason": verdict.reason, "at": _now()})

    def pattern(self, template_id: str):
        entry = self.accepted.get(template_id)
        return re_engine.compile(entry["regex"], re_engine.DOTALL) if entry else None

    def keyed_patterns(self) -> dict[str, object]:
        """template_id -> compiled pattern, for accepted patterns with at least one named key (a group
        named after the word before its slot; positional `p<i>` groups are parameters, not pairs)."""
        out = {}
        for template_id, entry in self.accepted.items():
            pattern = re_engine.compile(entry["regex"], re_engine.DOTALL)
            if any(not _POSITIONAL.fullmatch(name) for name in pattern.groupindex):
                out[template_id] = pattern
        return out


class RegistryKV:
    """The registry first: rows of a template with an accepted keyed pattern get their pairs from its named
    groups (generic `key=value` pairs fill in keys the pattern lacks). Reloaded when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: int | None = None
        self.patterns: dict[str, object] = {}

    def refresh(self) -> None:
        try:
            stamp = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamp:
            return
        try:
            self.patterns = SchemaRegistry.load(self.path).keyed_patterns() if stamp is not None else {}
        except (OSError, ValueError, KeyError, TypeError, re_engine.error):
            self.patterns = {}  # a registry edited into something unreadable: generic pairs until it is fixed
        self._stamp = stamp

    def fill(self, rows: pa.Table) -> pa.Table:
        """`rows` (parsed: template_id, message, kv) with registry pairs merged in; order may change."""
        self.refresh()
        if not self.patterns or rows.num_rows == 0:
            return rows
        known = pc.is_in(rows.column("template_id"), value_set=pa.array(list(self.patterns), pa.string()))
        if not pc.any(known).as_py():
            return rows
        hit = rows.filter(known)
        kv = []
        deadline = time.monotonic() + FILL_BUDGET_S
        for template_id, message, generic in zip(hit.column("template_id").to_pylist(),
                                                 hit.column("message").to_pylist(),
                                                 hit.column("kv").to_pylist(), strict=True):
            pairs = dict(generic)
            match = None
            if time.monotonic() < deadline:  # past it, the rest of the batch keeps its generic pairs
                try:
                    match = self.patterns[template_id].fullmatch(message, timeout=MATCH_TIMEOUT_S)
                except TimeoutError:
                    match = None
            if match is not None:
                pairs = {**pairs, **{k: v for k, v in match.groupdict().items()
                                     if v is not None and not _POSITIONAL.fullmatch(k)}}
            kv.append(list(pairs.items()))
        index = hit.schema.get_field_index("kv")
        hit = hit.set_column(index, hit.schema.field(index), pa.array(kv, hit.schema.field(index).type))
        return pa.concat_tables([rows.filter(pc.invert(known)), hit])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class DiscoveryResult:
    accepted: dict[str, str] = field(default_factory=dict)  # template_id -> proposed_by
    rejected: dict[str, list[str]] = field(default_factory=dict)  # template_id -> reasons
    known: int = 0  # already in the registry: nothing proposed


def discover(registry: SchemaRegistry, templates: dict[str, str], samples: dict[str, list[str]],
             other_lines: dict[str, list[str]], llm_client=None) -> DiscoveryResult:
    """Propose, validate and record a pattern for each template not in the registry yet. `other_lines` holds,
    per template, lines of the source's other templates that its pattern must not match."""
    result = DiscoveryResult()
    for template_id, template in templates.items():
        if template_id in registry.accepted:
            result.known += 1
            continue
        lines = samples.get(template_id, [])[:MAX_SAMPLES]
        candidates = [from_template(template_id, template, lines)]
        for proposal in _with_llm(candidates, llm_client, template_id, template, lines):
            verdict = validate(proposal, template, lines, other_lines.get(template_id, []))
            if verdict.accepted:
                registry.accept(proposal, template, verdict, len(lines))
                result.accepted[template_id] = proposal.proposed_by
                break
            registry.reject(proposal, verdict)
            result.rejected.setdefault(template_id, []).append(verdict.reason)
    return result


def _with_llm(candidates: list[Proposal], client, template_id: str, template: str, lines: list[str]):
    """The template's own proposal first; the LLM is asked only when that one was rejected."""
    yield from candidates
    if client is None or client.disabled_reason is not None:
        return
    from logpilot_dagster.llm.client import LLMUnavailable

    try:
        yield from_llm(client, template_id, template, lines)
    except LLMUnavailable:
        return


def discover_new_templates(layout: HomeLayout, new: dict[str, str], samples: dict[str, list[str]],
                           examples_by_template: dict[str, tuple[str, str]] | None = None,
                           llm_client=None, before_save: Callable[[], None] | None = None) -> DiscoveryResult:
    """The live engine's hook: discovery for the templates a batch created, against the other templates'
    examples of the same source (`examples_by_template`: template_id -> (source, example)).

    The new entries are merged into what the registry file holds at the end, under the miner lock (the purge
    edits the registry under it): an edit made while discovery ran (it may ask the LLM) is kept, not written
    over. `before_save`: called under that lock first; what it raises leaves the registry as it is (the live
    writer's `purge_guard.check`: entries of a batch read before a purge are not saved after it)."""
    registry = SchemaRegistry.load(layout.schema_registry)
    rejected_before = len(registry.rejected)
    others: dict[str, list[str]] = {}
    examples_by_template = examples_by_template or {}
    for template_id in new:
        source = template_id.rsplit(":", 1)[0]
        others[template_id] = [example for tid, (src, example) in examples_by_template.items()
                               if src == source and tid != template_id and example] + \
                              [line for tid, lines in samples.items() if tid != template_id
                               and tid.rsplit(":", 1)[0] == source for line in lines]
    result = discover(registry, new, samples, others, llm_client)
    with file_lock(layout.miner_lock, MINER_WAIT_S, "the miner's state"):
        if before_save is not None:
            before_save()
        current = SchemaRegistry.load(layout.schema_registry)
        current.accepted.update({tid: entry for tid, entry in registry.accepted.items() if tid in new})
        current.rejected.extend(registry.rejected[rejected_before:])
        current.save()
    return result
