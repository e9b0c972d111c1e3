"""Markdown runbooks cut into passages at their headings: what the runbook index embeds and `ask` cites."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
MAX_PASSAGE_CHARS = 2_000  # a longer section is cut at paragraph breaks: the embedder reads 256 tokens


@dataclass(frozen=True)
class Passage:
    id: str  # file#n-slug: stable while the runbook's headings stay
    file: str
    title: str  # the runbook's first heading
    heading: str  # the section's heading
    text: str

    @property
    def embedded_text(self) -> str:
        return f"{self.title} — {self.heading}\n{self.text}" if self.heading != self.title else \
            f"{self.title}\n{self.text}"

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.embedded_text.encode("utf-8")).hexdigest()[:16]


def chunk_markdown(name: str, text: str) -> list[Passage]:
    """One passage per heading with its text (the text before the first heading goes with the title)."""
    sections: list[tuple[str, list[str]]] = []
    title = ""
    for line in text.splitlines():
        match = _HEADING.match(line)
        if match:
            heading = match.group(2).strip()
            title = title or heading
            sections.append((heading, []))
        else:
            if not sections:
                sections.append((Path(name).stem, []))
            sections[-1][1].append(line)
    title = title or Path(name).stem
    passages = []
    for n, (heading, lines) in enumerate(sections):
        body = "\n".join(lines).strip()
        if not body and heading == title and len(sections) > 1:
            continue  # a bare title: each section carries it anyway
        for part, piece in enumerate(_cut(body)):
            suffix = f"-{part}" if part else ""
            passages.append(Passage(f"{name}#{n}-{_slug(heading)}{suffix}", name, title, heading, piece))
    return passages


def read_runbooks(folder: Path) -> list[Passage]:
    """Every `*.md` under the folder (sorted), as passages; an unreadable file is skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    passages = []
    for path in sorted(folder.rglob("*.md")):
        if path.is_symlink() or not path.is_file():
            continue  # a link could point anywhere on the machine
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        passages.extend(chunk_markdown(path.relative_to(folder).as_posix(), text))
    return passages


def _cut(body: str) -> list[str]:
    if len(body) <= MAX_PASSAGE_CHARS:
        return [body]
    pieces, current = [], ""
    for paragraph in re.split(r"\n\s*\n", body):
        if current and len(current) + len(paragraph) + 2 > MAX_PASSAGE_CHARS:
            pieces.append(current)
            current = ""
        current = f"{current}\n\n{paragraph}" if current else paragraph[:MAX_PASSAGE_CHARS * 2]
    return pieces + ([current] if current else [])


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "section"
