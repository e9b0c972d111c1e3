"""The sources registry: which landing file belongs to which source, and in which format it is written."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

from logpilot_dagster.ingest.formats import (
    BUILTIN_PATTERNS,
    CsvFormat,
    JsonLinesFormat,
    LogFormat,
    RegexFormat,
)

SOURCES_ENV = "LOGPILOT_SOURCES"


class RegistryError(ValueError):
    """The sources registry file is malformed; the message says where."""


@dataclass(frozen=True)
class SourceSpec:
    name: str
    path: str  # glob relative to the landing folder
    log_format: LogFormat = field(repr=False, compare=False)
    options: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def matches(self, relative_path: str) -> bool:
        return _glob_regex(self.path).match(_without_gz(relative_path)) is not None


def default_sources_text() -> str:
    """The packaged registry's TOML, the starting point for a home's own `sources.toml`."""
    return resources.files("logpilot_dagster.ingest").joinpath("default_sources.toml").read_text("utf-8")


class SourcesRegistry:
    def __init__(self, sources: list[SourceSpec]) -> None:
        names = [s.name for s in sources]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise RegistryError(f"source names must be unique, repeated: {duplicates}")
        self.sources = sources

    def source_for(self, relative_path: str) -> SourceSpec | None:
        """The first source whose glob matches the file, or None (the file is then quarantined whole)."""
        return next((s for s in self.sources if s.matches(relative_path)), None)

    def __getitem__(self, name: str) -> SourceSpec:
        for spec in self.sources:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @classmethod
    def from_toml(cls, text: str, origin: str = "<sources>") -> SourcesRegistry:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RegistryError(f"{origin}: {exc}") from None
        entries = data.get("source")
        if not isinstance(entries, list) or not entries:
            raise RegistryError(f"{origin}: needs at least one [[source]] table")
        return cls([_spec_from(entry, f"{origin} [[source]] #{i + 1}") for i, entry in enumerate(entries)])

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None,
             home_file: Path | None = None) -> SourcesRegistry:
        """`path`, else $LOGPILOT_SOURCES, else `home_file` ($LOGPILOT_HOME/sources.toml) if it exists,
        else the packaged default."""
        chosen = path or os.environ.get(SOURCES_ENV)
        if chosen:
            file = Path(chosen)
            if not file.is_file():
                raise RegistryError(f"sources registry not found: {file}")
            return cls.from_toml(file.read_text(encoding="utf-8"), str(file))
        if home_file is not None and home_file.is_file():
            return cls.from_toml(home_file.read_text(encoding="utf-8"), str(home_file))
        return cls.default()

    @classmethod
    def default(cls) -> SourcesRegistry:
        return cls.from_toml(default_sources_text(), "default_sources.toml")


def _spec_from(entry: dict[str, Any], where: str) -> SourceSpec:
    try:
        name, path, kind = entry["name"], entry["path"], entry["format"]
    except KeyError as exc:
        raise RegistryError(f"{where}: missing key {exc}") from None
    options = {k: v for k, v in entry.items() if k not in ("name", "path", "format")}
    ts_format, timezone = options.get("ts_format"), options.get("timezone", "UTC")
    try:
        if kind in BUILTIN_PATTERNS or kind == "regex":
            pattern, default_ts = BUILTIN_PATTERNS.get(kind, (options.get("pattern"), "iso"))
            if not pattern:
                raise RegistryError(f"{where}: format 'regex' needs a `pattern`")
            log_format: LogFormat = RegexFormat(pattern, ts_format or default_ts, timezone,
                                                bool(options.get("multiline", False)))
        elif kind == "jsonl":
            log_format = JsonLinesFormat(
                **{k: options[k] for k in ("ts_field", "message_field", "level_field", "component_field")
                   if k in options}, ts_format=ts_format or "iso", timezone=timezone)
        elif kind == "csv":
            log_format = CsvFormat(
                **{k: options[k] for k in ("message_column", "ts_column", "source_column", "level_column")
                   if k in options}, ts_format=ts_format or "iso", timezone=timezone)
        else:
            raise RegistryError(f"{where}: unknown format {kind!r}")
    except (re.error, ValueError) as exc:
        if isinstance(exc, RegistryError):
            raise
        raise RegistryError(f"{where}: {exc}") from None
    return SourceSpec(name=name, path=path, log_format=log_format, options=options)


def _without_gz(relative_path: str) -> str:
    return relative_path[:-3] if relative_path.endswith(".gz") else relative_path


_GLOB_CACHE: dict[str, re.Pattern[str]] = {}


def _glob_regex(glob: str) -> re.Pattern[str]:
    """A path glob where `*` stays inside a folder and `**/` crosses folders."""
    if glob not in _GLOB_CACHE:
        parts = []
        for piece in re.split(r"(\*\*/|\*|\?)", PurePosixPath(glob).as_posix()):
            parts.append({"**/": "(?:.*/)?", "*": "[^/]*", "?": "[^/]"}.get(piece, re.escape(piece)))
        _GLOB_CACHE[glob] = re.compile("^" + "".join(parts) + "$")
    return _GLOB_CACHE[glob]
