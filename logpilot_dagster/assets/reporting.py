"""Small formatters that turn counts into metadata a person reads in the Dagster UI."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

BAR_WIDTH = 24


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines)


def bar_chart(counts: Mapping[str, int], label: str = "value") -> str:
    """A horizontal bar chart as a markdown table: readable in the UI, no image pipeline needed."""
    if not counts:
        return "_nothing to show_"
    peak = max(counts.values()) or 1
    rows = [(k, f"{v:,}", "█" * max(1, round(BAR_WIDTH * v / peak)) if v else "")
            for k, v in sorted(counts.items(), key=lambda kv: -kv[1])]
    return markdown_table([label, "count", ""], rows)


def _cell(value: object) -> str:
    text = f"{value:,}" if isinstance(value, int) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")[:160]
