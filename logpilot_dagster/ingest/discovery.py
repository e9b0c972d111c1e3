"""Schema discovery for log formats nobody registered: a source entry proposed from the lines themselves.

For landing files no registry entry matches (quarantined whole as `no_source`), a proposal is inferred
without an LLM: JSON lines (which fields hold the time, message, level, service), CSV exports (which columns),
one of the built-in line formats, or a `regex` assembled from the timestamp shape at the start of the line,
the level words, numbers, bracketed fields and separators that follow it. A proposal is kept only if the
registry entry it would become parses at least 99% of a sample of the files' lines (continuation lines
count when the format is multi-line), its timestamps parse and are monotone enough, and its messages are
not empty. Proposals go to `registry/proposed_sources.toml` with their evidence (counts, never lines);
`logpilot sources --accept NAME` moves one into the home's `sources.toml`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tomllib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel

from logpilot_dagster.ingest.formats import BUILTIN_PATTERNS, CsvFormat, HeaderError, TimestampParser
from logpilot_dagster.ingest.reader import RawLine, read_lines
from logpilot_dagster.ingest.sources import RegistryError, SourcesRegistry, default_sources_text
from logpilot_dagster.ingest.staging import StageLimits, file_date

AUTO_ACCEPT_ENV = "LOGPILOT_AUTO_ACCEPT_SOURCES"
MIN_PARSED = 0.99
MIN_MONOTONE = 0.9
SAMPLE_LINES = 2_000  # per file
LEVEL_WORDS = frozenset({"TRACE", "DEBUG", "INFO", "INFORMATION", "NOTICE", "WARN", "WARNING", "ERROR", "ERR",
                         "CRIT", "CRITICAL", "FATAL", "ALERT", "EMERG", "SEVERE", "FINE"})
# Timestamp shapes a line can start with, most specific first (a shape with a fraction before the same one
# without), with the `ts_format`s that may read each: several when the order of day, month and year is not
# shown by the digits, tried in turn. Formats without a year take it from the file's date (see `formats`).
_TIME = r"\d{2}:\d{2}:\d{2}"
TS_SHAPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?", ("iso",)),
    (r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}", ("%a %b %d %H:%M:%S %Y",)),
    (r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}", ("%d/%b/%Y:%H:%M:%S %z",)),
    (r"\d{4}-\d{2}-\d{2}-\d{2}\.\d{2}\.\d{2}\.\d{1,6}", ("%Y-%m-%d-%H.%M.%S.%f",)),
    (rf"\d{{4}}/\d{{2}}/\d{{2}} {_TIME}\.\d{{1,6}}", ("%Y/%m/%d %H:%M:%S.%f",)),
    (rf"\d{{4}}/\d{{2}}/\d{{2}} {_TIME}", ("%Y/%m/%d %H:%M:%S",)),
    (rf"\d{{2}}/\d{{2}}/\d{{4}} {_TIME}", ("%m/%d/%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S")),
    (rf"\d{{2}}/\d{{2}}/\d{{2}} {_TIME}", ("%y/%m/%d %H:%M:%S", "%m/%d/%y %H:%M:%S", "%d/%m/%y %H:%M:%S")),
    (rf"\d{{2}}-[A-Z][a-z]{{2}}-\d{{4}} {_TIME}\.\d{{1,6}}", ("%d-%b-%Y %H:%M:%S.%f",)),
    (rf"\d{{2}}-[A-Z][a-z]{{2}}-\d{{4}} {_TIME}", ("%d-%b-%Y %H:%M:%S",)),
    (r"[A-Z][a-z]{2} \d{2}, \d{4} \d{1,2}:\d{2}:\d{2} [AP]M", ("%b %d, %Y %I:%M:%S %p",)),
    (rf"\d{{2}}-\d{{2}} {_TIME}\.\d{{1,6}}", ("%m-%d %H:%M:%S.%f",)),
    (rf"\d{{2}}\.\d{{2}} {_TIME}", ("%m.%d %H:%M:%S",)),
    (r"[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}", ("syslog",)),
    (r"\d{6} \d{6}", ("%y%m%d %H%M%S",)),
    (r"\d{10}(?:\.\d+)?", ("epoch",)),
)
_STARTS_WITH_TIME = re.compile("|".join(f"(?:\\[|<\\d{{1,3}}>)?{shape}" for shape, _ in TS_SHAPES))
# Header fields before the timestamp (a host, a file name, a record number) that a header may start with: at
# most this many, each with a character other than a letter or in capitals (`web-01`, `app.log`, `-`, `42`,
# `KERNDTLB`; lower-case words would be a message's: `job 7 finished at <time>`), and only where the timestamp
# is after them in clearly more lines than at the start.
MAX_LEADING_FIELDS = 3
_LEADING_FIELD = r"(?:\S*[^\sA-Za-z]\S*|[A-Z]+) +"
LEVEL_LETTERS = frozenset("VDIWEF")  # one-letter levels (logcat, glog), only as a whole column
_CONTINUATION = re.compile(r"^(?:\s|at |Caused by|\.\.\. \d+ more|Traceback|File \")")
_TS_KEYS = ("ts", "timestamp", "time", "@timestamp", "datetime", "date", "eventTime")
_MESSAGE_KEYS = ("msg", "message", "log", "text", "log_message", "event")
_LEVEL_KEYS = ("level", "severity", "lvl", "loglevel")
_COMPONENT_KEYS = ("service", "logger", "component", "module", "app")


@dataclass
class SourceProposal:
    name: str
    path: str
    format: str
    options: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)

    def entry_toml(self, with_evidence: bool = True) -> str:
        lines = ["[[source]]", f"name = {_q(self.name)}", f"path = {_q(self.path)}", f"format = {_q(self.format)}"]
        lines += [f"{key} = {_value(value)}" for key, value in self.options.items()]
        if with_evidence and self.evidence:
            lines.append("[source.evidence]")
            lines += [f"{key} = {_value(value)}" for key, value in self.evidence.items()]
        return "\n".join(lines) + "\n"

    def registry(self) -> SourcesRegistry:
        """The entry as the registry would read it: what is validated is exactly what gets accepted."""
        return SourcesRegistry.from_toml(self.entry_toml(with_evidence=False), f"proposal {self.name}")


def _q(text: str) -> str:
    return json.dumps(text)  # a JSON string is a TOML basic string


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return _q(str(value))


@dataclass
class Rejected:
    name: str
    files: list[str]
    reason: str


# --- inferring ----------------------------------------------------------------------------------------


def sample_lines(paths: Iterable[Path], per_file: int = SAMPLE_LINES) -> list[str]:
    out: list[str] = []
    for path in paths:
        n = 0
        for item in read_lines(path):
            if not isinstance(item, RawLine) or item.too_long:
                continue
            text = item.data.decode("utf-8", errors="replace").lstrip("\ufeff")
            if text.strip():
                out.append(text)
                n += 1
            if n >= per_file:
                break
    return out


def _sample(landing: Path, keys: list[str]) -> tuple[list[str], list[datetime]]:
    """Sample lines of these landing files, with the date each line's year-less timestamp is read against."""
    lines: list[str] = []
    dates: list[datetime] = []
    for key in keys:
        found = sample_lines([landing / key])
        lines += found
        dates += [file_date(key, landing / key)] * len(found)
    return lines, dates


def infer(name: str, path: str, lines: list[str], llm_client=None,
          dates: list[datetime] | None = None) -> SourceProposal | str:
    """The best validated proposal for these lines, or the reason there is none. The LLM (when a client with
    an endpoint is given) is asked only when no rule-based candidate validates, and is validated the same way.
    `dates`: each line's file date, which staging reads year-less timestamps against (now by default)."""
    if not lines:
        return "no lines to infer a format from"
    reasons = []
    candidates = list(_candidates(name, path, lines))
    for i, candidate in enumerate(candidates):
        verdict = validate(candidate, lines, dates)
        if isinstance(verdict, str):
            reasons.append(f"{candidate.format}: {verdict}")
            continue
        # Another reading of the same header (day and month swapped) that validates too: say so, and leave the
        # choice to a person (not accepted automatically).
        others = [c.options["ts_format"] for c in candidates[i + 1:]
                  if c.options.get("pattern") is not None and c.options.get("pattern") == candidate.options.get("pattern")
                  and not isinstance(validate(c, lines, dates), str)]
        if others:
            verdict.evidence["ambiguous_ts_format"] = others
        return verdict
    if llm_client is not None and llm_client.disabled_reason is None:
        candidate = _from_llm(llm_client, name, path, lines)
        if isinstance(candidate, str):
            reasons.append(f"llm: {candidate}")
        else:
            verdict = validate(candidate, lines, dates)
            if not isinstance(verdict, str):
                verdict.evidence["inferred_by"] = "llm"
                return verdict
            reasons.append(f"llm regex: {verdict}")
    return "; ".join(reasons[:4]) or "no timestamp shape found at the start of the lines"


class _LLMSource(BaseModel):
    pattern: str
    ts_format: str = "iso"


def _from_llm(client, name: str, path: str, lines: list[str]) -> SourceProposal | str:
    from logpilot_dagster.llm.client import LLMUnavailable

    system = ("You read log lines and reply with JSON {\"pattern\": \"...\", \"ts_format\": \"...\"}: a Python "
              "regex matching each line in full with named groups ts and message (and level, component if "
              "present), and ts_format: iso, syslog, epoch, or a strptime format for the ts group.")

    def check(reply: _LLMSource) -> None:
        groups = re.compile(reply.pattern).groupindex
        if not {"ts", "message"} <= set(groups):
            raise ValueError("the pattern needs named groups ts and message")

    try:
        reply = client.ask_json(system, json.dumps({"lines": lines[:20]}), _LLMSource, check)
    except LLMUnavailable as exc:
        return str(exc)
    return SourceProposal(name, path, "regex", {"pattern": reply.pattern, "ts_format": reply.ts_format})


def _candidates(name: str, path: str, lines: list[str]) -> Iterable[SourceProposal]:
    if sum(line.lstrip().startswith("{") for line in lines) >= MIN_PARSED * len(lines):
        found = _json_fields(lines)
        if found:
            yield SourceProposal(name, path, "jsonl", found)
    if "," in lines[0]:
        found = _csv_columns(lines)
        if found:
            yield SourceProposal(name, path, "csv", found)
    for builtin, (pattern, _) in BUILTIN_PATTERNS.items():
        if sum(1 for line in lines[:200] if re.match(pattern, line)) >= 0.5 * min(200, len(lines)):
            yield SourceProposal(name, path, builtin, {})
    regex = _header_regex(lines)
    if regex:
        pattern, ts_formats = regex
        for ts_format in ts_formats:
            yield SourceProposal(name, path, "regex", {"pattern": pattern, "ts_format": ts_format})


def starts_with_time(line: str) -> bool:
    """Whether the line starts with one of the timestamp shapes (optionally after `[` or a syslog `<PRI>`)."""
    return _STARTS_WITH_TIME.match(line) is not None


def _parses(value: Any, fmt: str = "iso") -> bool:
    try:
        TimestampParser(fmt).parse(str(value))
        return True
    except HeaderError:
        return False


def _json_fields(lines: list[str]) -> dict[str, str] | None:
    objects = []
    for line in lines[:500]:
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            objects.append(obj)
    if not objects:
        return None
    keys = Counter(k for obj in objects for k in obj)
    common = [k for k, n in keys.items() if n >= MIN_PARSED * len(objects)]

    def share(key: str, test) -> float:
        return sum(1 for obj in objects if key in obj and test(obj[key])) / len(objects)

    ts = _pick(common, _TS_KEYS, lambda k: share(k, _parses) >= MIN_PARSED)
    message = _pick(common, _MESSAGE_KEYS, lambda k: share(k, lambda v: isinstance(v, str) and v) >= MIN_PARSED)
    if ts is None or message is None:
        return None
    found = {"ts_field": ts, "message_field": message}
    level = _pick(common, _LEVEL_KEYS, lambda k: share(k, lambda v: str(v).upper() in LEVEL_WORDS) >= 0.9)
    component = _pick([k for k in keys if k not in (ts, message, level)], _COMPONENT_KEYS, lambda k: False)
    if level:
        found["level_field"] = level
    if component:
        found["component_field"] = component
    return found


def _pick(keys: list[str], preferred: tuple[str, ...], fits) -> str | None:
    """A preferred name if present (and fitting, when a test is given), else the first key that fits."""
    for name in preferred:
        for key in keys:
            if key.lower() == name.lower():
                return key
    return next((k for k in keys if fits(k)), None)


def _csv_columns(lines: list[str]) -> dict[str, str] | None:
    rows = list(csv.reader(io.StringIO("\n".join(lines[:500]))))
    if len(rows) < 2:
        return None
    # Samples of several files hold each file's header row again: those rows are headers, not records.
    header, body = rows[0], [r for r in rows[1:] if len(r) == len(rows[0]) and r != rows[0]]
    if not body or len(set(header)) != len(header):
        return None
    # A header row names the columns: a row holding a timestamp is a record (`2026-11-30 12:00:01,123 INFO`
    # splits at its comma like a CSV row, and is a line with a header instead).
    if any(not h.strip() or _parses(h) for h in header):
        return None

    def column(i: int) -> list[str]:
        return [r[i] for r in body]

    ts = next((h for i, h in enumerate(header) if sum(map(_parses, column(i))) >= MIN_PARSED * len(body)), None)
    text = [(sum(len(v) for v in column(i)), h) for i, h in enumerate(header) if h != ts]
    if ts is None or not text:
        return None
    found = {"ts_column": ts, "message_column": max(text)[1]}
    named = {h.lower(): h for h in header}
    for key in ("source", "system", "host", "service"):
        if key in named:
            found["source_column"] = named[key]
            break
    level = next((h for i, h in enumerate(header)
                  if sum(v.upper() in LEVEL_WORDS for v in column(i)) >= 0.9 * len(body)), None)
    if level:
        found["level_column"] = level
    return found


def _header_regex(lines: list[str]) -> tuple[str, tuple[str, ...]] | None:
    """A header regex: the timestamp shape most lines start with (or have after a few leading fields), then
    the fields that follow it."""
    heads = [line for line in lines if not _CONTINUATION.match(line)] or lines
    best = None
    prefixes = [("", ""), (r"\[", r"\]"), (r"<\d{1,3}>", "")]
    prefixes += [(f"(?:{_LEADING_FIELD}){{{k}}}", "") for k in range(1, MAX_LEADING_FIELDS + 1)]
    for shape, ts_formats in TS_SHAPES:
        for prefix, suffix in prefixes:
            compiled = re.compile(f"^{prefix}({shape}){suffix}")
            hits = sum(1 for line in heads if compiled.match(line))
            # Leading fields must win clearly: a timestamp inside the message is no header.
            margin = 0.05 * len(heads) if prefix.startswith("(?:") else 0
            if hits and (best is None or hits > best[0] + margin):
                best = (hits, prefix, shape, suffix, ts_formats)
    if best is None or best[0] < 0.5 * len(heads):
        return None
    _, prefix, shape, suffix, ts_formats = best
    pieces = [f"^{prefix}(?P<ts>{shape}){suffix}"]
    separator = _separator_after(re.compile(pieces[0]), heads)
    if separator:
        pieces.append(re.escape(separator))
    have = {"level": False, "component": False}
    for _ in range(6):
        head = re.compile("".join(pieces))
        rests = [m.string[m.end():] for m in map(head.match, heads) if m]
        spaced = [r for r in rests if r.startswith(" ")]
        tokens = [r.lstrip(" ").split(" ", 1)[0] for r in spaced]
        if len(tokens) < MIN_PARSED * len(rests) or not tokens:
            break
        step = _next_field(tokens, have, spaced)
        if step is None:
            break
        pieces.append(step)
    pieces.append(r" +(?P<message>.*)$" if not pieces[-1].endswith(" -") else r" (?P<message>.*)$")
    return "".join(pieces), ts_formats


def _separator_after(head: re.Pattern[str], lines: list[str]) -> str | None:
    """A `,`, `;` or `|` right after the timestamp in (nearly) every line (`2016-09-28 04:30:30, Info ...`)."""
    rests = [m.string[m.end():] for m in map(head.match, lines) if m]
    first, n = Counter(r[:1] for r in rests).most_common(1)[0] if rests else ("", 0)
    return first if first in (",", ";", "|") and n >= MIN_PARSED * len(rests) else None


# A bracketed field, with brackets one level deep inside it (`[QuorumPeer[myid=1]/0.0.0.0:2181]`).
_BRACKETED = r"\[(?:[^\[\]]|\[[^\[\]]*\])*\]"
_LEADING_LEVEL_SCAN = 8  # tokens searched for a level word at the same place in every line


def _next_field(tokens: list[str], have: dict[str, bool], rests: list[str]) -> str | None:
    """The regex of the next header field, from the first token of what follows the header so far in each
    line (`rests`: those texts, each starting with a space), or None where the message starts."""
    n = len(tokens)

    def most(test) -> bool:
        return sum(1 for t in tokens if test(t)) >= 0.95 * n

    if not have["level"] and most(lambda t: t.strip("[]:").upper() in LEVEL_WORDS):
        have["level"] = True
        if most(lambda t: t.startswith("[") and t.endswith("]")):
            return r" +\[(?P<level>[A-Za-z]+)\]"
        return r" +(?P<level>[A-Za-z]+):?"
    if not have["level"] and all(t in LEVEL_LETTERS for t in tokens):
        have["level"] = True
        return r" +(?P<level>[A-Z])"
    if most(str.isdigit):
        return r" +\d+"
    # A bracketed name after the level is the logger (`INFO [db.pool] ...`); before it, often the thread.
    if (have["level"] and not have["component"]
            and most(lambda t: re.fullmatch(r"\[[A-Za-z_$][\w$.\-]*\]", t) is not None)):
        have["component"] = True
        return r" +\[(?P<component>[^\]\s]+)\]"
    if most(lambda t: t.startswith("[")):
        return " +" + _BRACKETED
    if not have["component"] and most(lambda t: t.endswith(":") and len(t) > 1):
        have["component"] = True
        return r" +(?P<component>[^\s:\[]+)(?:\[[^\]\s]*\])?:"
    if most(lambda t: t == "-"):
        return r" +-"
    if not have["component"] and most(lambda t: re.fullmatch(r"[\w$]+(?:\.[\w$]+)+", t) is not None):
        have["component"] = True
        return r" +(?P<component>\S+)"
    if not have["level"]:
        return _fields_before_a_level(rests)
    # A name padded to a column's width (`Info    CBS    Loaded ...`) is a field of its own: the component. A
    # longer name than the column takes is followed by one space only: still the component.
    if not have["component"] and sum(1 for r in rests if _PADDED_NAME.match(r)) >= MIN_PARSED * n:
        have["component"] = True
        return r" +(?P<component>[A-Za-z][\w.$\-]*)(?= )"
    return None


_PADDED_NAME = re.compile(r" +[A-Za-z][\w.$\-]* {2,}\S")


def _fields_before_a_level(rests: list[str]) -> str | None:
    """Header fields of any kind (hosts, node ids, other times) before a level word found at the same token in
    nearly every line: skipped, and the level read."""
    at = Counter()
    for rest in rests:
        for j, token in enumerate(rest.split()[:_LEADING_LEVEL_SCAN]):
            if token.strip("[]:").upper() in LEVEL_WORDS:
                at[j] += 1
                break
    if not at:
        return None
    j, hits = at.most_common(1)[0]
    if j == 0 or hits < 0.95 * len(rests):
        return None
    return rf"(?: +\S+){{{j}}} +(?P<level>[A-Za-z]+):?"


# --- validating ---------------------------------------------------------------------------------------


def validate(proposal: SourceProposal, lines: list[str], dates: list[datetime] | None = None
             ) -> SourceProposal | str:
    """The proposal with its evidence if its registry entry parses the lines well enough, else why not. Year-less
    timestamps are read against each line's file date (`dates`), as staging reads them, else now."""
    try:
        spec = proposal.registry().sources[0]
    except RegistryError as exc:
        return f"not a valid registry entry: {exc}"
    fmt = spec.log_format
    reference = datetime.now().astimezone()
    # Staging quarantines lines after this (`future_timestamp`): a proposal whose lines would land there (a
    # year guessed wrong, day and month swapped) is not a format that parses them.
    latest = reference + StageLimits().max_future_skew
    parsed, failed, continued, traces, empty, stamps = 0, 0, 0, 0, 0, []
    body = lines
    if isinstance(fmt, CsvFormat):
        rows = list(csv.reader(io.StringIO("\n".join(lines))))
        if not rows:
            return "no CSV rows"
        try:
            fmt.check_columns(rows[0])
        except HeaderError as exc:
            return exc.detail
        headers = sum(1 for r in rows[1:] if r == rows[0])  # the next file's header row
        body = [dict(zip(rows[0], r, strict=False)) for r in rows[1:] if len(r) == len(rows[0]) and r != rows[0]]
        failed += len(rows) - 1 - headers - len(body)
    per_line = dates if dates is not None and len(dates) == len(body) else [reference] * len(body)
    for item, date in zip(body, per_line, strict=True):
        try:
            header = fmt.parse_row(item, date) if isinstance(fmt, CsvFormat) else fmt.parse(item, date)
        except HeaderError:
            if isinstance(item, str) and not _STARTS_WITH_TIME.match(item):
                continued += 1  # a continuation, if the format turns out to be multi-line
                traces += bool(_CONTINUATION.match(item))
            else:
                failed += 1
            continue
        if header.ts > latest:
            failed += 1
            continue
        parsed += 1
        stamps.append(header.ts)
        empty += not header.message.strip()
    total = parsed + failed + continued
    # Multi-line only when one-line parsing falls short and stack-trace lines show why: otherwise stray
    # lines would be glued to the record before them instead of being quarantined.
    multiline = (proposal.format not in ("jsonl", "csv") and traces > 0
                 and (total - failed - continued) / max(1, total) < MIN_PARSED)
    if multiline:
        proposal.options["multiline"] = True
    else:
        failed += continued
    share = (total - failed) / total if total else 0.0
    monotone = (sum(1 for a, b in zip(stamps, stamps[1:], strict=False) if b >= a) / max(1, len(stamps) - 1))
    if share < MIN_PARSED:
        return f"parses {share:.1%} of {total} lines (needs {MIN_PARSED:.0%})"
    if monotone < MIN_MONOTONE:
        return f"timestamps in order for {monotone:.1%} of consecutive lines (needs {MIN_MONOTONE:.0%})"
    if empty > (1 - MIN_PARSED) * max(1, parsed):
        return f"{empty} empty messages"
    proposal.evidence = {"lines_sampled": total, "parsed_share": round(share, 4), "records": parsed,
                         "continuation_lines": continued if multiline else 0,
                         "timestamps_in_order": round(monotone, 4), "inferred_by": "rules"}
    return proposal


# --- the proposals file, and accepting --------------------------------------------------------------------


def unmatched_groups(landing: Path, keys: list[str], registry: SourcesRegistry) -> dict[str, list[str]]:
    """Landing files no entry matches, grouped by their top folder (a file at the top by its own name)."""
    groups: dict[str, list[str]] = {}
    for key in keys:
        if registry.source_for(key) is None and (landing / key).is_file() and not (landing / key).is_symlink():
            parts = PurePosixPath(key).parts
            groups.setdefault(parts[0] if len(parts) > 1 else PurePosixPath(key).stem, []).append(key)
    return groups


def path_glob(keys: list[str]) -> str:
    names = [PurePosixPath(k).name.removesuffix(".gz") for k in keys]
    folder = PurePosixPath(keys[0]).parent.as_posix()
    prefix = os.path.commonprefix(names).rstrip("0123456789-_.")
    glob = (prefix or "") + "*"
    return glob if folder == "." else f"{folder}/{glob}"


def propose(landing: Path, keys: list[str], registry: SourcesRegistry,
            llm_client=None) -> tuple[list[SourceProposal], list[Rejected]]:
    proposals, rejected = [], []
    taken = {s.name for s in registry.sources}
    for name, files in sorted(unmatched_groups(landing, keys, registry).items()):
        label = name if name not in taken else f"{name}_discovered"
        lines, dates = _sample(landing, files)
        found = infer(label, path_glob(files), lines, llm_client, dates)
        if isinstance(found, str):
            rejected.append(Rejected(label, files, found))
        else:
            found.evidence["files"] = len(files)
            proposals.append(found)
    return proposals, rejected


HEADER = """# Source entries LogPilot inferred for landing files no registry entry matches, with their evidence.
# `logpilot sources --accept NAME` moves one into the home's sources.toml (LOGPILOT_AUTO_ACCEPT_SOURCES=1
# accepts validated ones automatically); the file's lines are then ingested on the next run.
"""


def write_proposals(path: Path, proposals: list[SourceProposal]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(HEADER + "".join("\n" + p.entry_toml() for p in proposals), encoding="utf-8")
    tmp.replace(path)


def merge_proposals(path: Path, proposals: list[SourceProposal], keep=lambda p: True) -> None:
    """Write `proposals` over those of the same name, keeping the other existing ones `keep` accepts."""
    names = {p.name for p in proposals}
    write_proposals(path, [p for p in read_proposals(path) if p.name not in names and keep(p)] + proposals)


def from_live_records(proposal: SourceProposal) -> bool:
    return proposal.evidence.get("inferred_from") == "live records"


def read_proposals(path: Path) -> list[SourceProposal]:
    if not path.is_file():
        return []
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    out = []
    for entry in data.get("source", []):
        entry = dict(entry)
        evidence = entry.pop("evidence", {})
        name, glob, kind = entry.pop("name"), entry.pop("path"), entry.pop("format")
        out.append(SourceProposal(name, glob, kind, entry, evidence))
    return out


def accept(proposals_file: Path, sources_file: Path, name: str) -> SourceProposal:
    """Append the proposal to `sources_file` (a copy of the packaged registry if it does not exist yet),
    check the result loads, and drop the proposal. Raises ValueError naming what is wrong."""
    proposals = read_proposals(proposals_file)
    chosen = next((p for p in proposals if p.name == name), None)
    if chosen is None:
        known = ", ".join(p.name for p in proposals) or "none"
        raise ValueError(f"no proposed source named {name!r} (proposed: {known})")
    current = sources_file.read_text(encoding="utf-8") if sources_file.is_file() else default_sources_text()
    updated = current.rstrip("\n") + "\n\n" + chosen.entry_toml(with_evidence=False)
    SourcesRegistry.from_toml(updated, str(sources_file))  # refuse to write a registry that would not load
    sources_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = sources_file.with_name(sources_file.name + ".tmp")
    tmp.write_text(updated, encoding="utf-8")
    tmp.replace(sources_file)
    write_proposals(proposals_file, [p for p in proposals if p.name != name])
    return chosen


def auto_accept() -> bool:
    return os.environ.get(AUTO_ACCEPT_ENV, "").strip().lower() in ("1", "true", "yes")


def auto_accepts(proposal: SourceProposal) -> bool:
    """Whether `LOGPILOT_AUTO_ACCEPT_SOURCES` takes this (validated) proposal: not when another reading of its
    timestamps validates too (day and month swapped), which a person decides."""
    return auto_accept() and not proposal.evidence.get("ambiguous_ts_format")
