"""Small formatters that turn counts into metadata a person reads in the Dagster UI."""


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


def stacked_bars_png(rows: Sequence[tuple[str, str, int]], title: str) -> str:
    """(x, series, count) rows as a stacked bar chart, returned as markdown with an inline PNG.

    The Dagster UI renders data-URI images in markdown metadata, so the plot travels with the run.
    """
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not rows:
        return "_nothing to plot_"
    xs = sorted({x for x, _, _ in rows})
    series = sorted({s for _, s, _ in rows})
    counts = {(x, s): n for x, s, n in rows}
    fig, ax = plt.subplots(figsize=(10, 3.2), dpi=90)
    bottom = [0] * len(xs)
    for name in series:
        values = [counts.get((x, name), 0) for x in xs]
        ax.bar(xs, values, bottom=bottom, label=name, width=0.85)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_title(title)
    ax.tick_params(axis="x", labelrotation=90, labelsize=7)
    ax.legend(fontsize=7, ncols=min(4, len(series)), loc="upper left")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return f"![{title}](data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode('ascii')})"


def table_metadata(table: str) -> dict:
    """The definition metadata of an asset that is a DuckDB table: its name and its column schema."""
    from dagster import TableColumn, TableSchema

    from logpilot_dagster.store.tables import TABLES

    columns = [TableColumn(name, kind.split(" USING")[0].split(" NOT NULL")[0].split(" GENERATED")[0]
                           .split(" PRIMARY")[0], description=text) for name, kind, text in TABLES[table]]
    return {"dagster/table_name": f"logpilot.main.{table}", "dagster/column_schema": TableSchema(columns=columns)}


def rounded(value: float, digits: int = 4) -> float:
    """Figures for people: a share or a score to a few digits, not seventeen."""
    return round(float(value), digits)
