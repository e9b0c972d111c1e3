"""What a question may read: LogPilot's tables and views, with the column descriptions the LLM prompt shows."""

from __future__ import annotations

from logpilot_dagster.store import tables

# Views people query; `logs_all` is every tier LogPilot keeps online, `logs_labelled` adds each line's label.
VIEW_COLUMNS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "logs_all": tables.LOGS_COLUMNS,
    "logs_labelled": tables.LOGS_COLUMNS + (
        ("label", "VARCHAR", "the line's label (from its template), 'unclassified' when none"),
        ("label_confidence", "DOUBLE", "the label's confidence"),
        ("label_tier", "VARCHAR", "rules | model | llm | human | unclassified"),
    ),
    "logs_archive": tables.LOGS_COLUMNS,  # logs_all plus the cold tier, when the lifecycle adds it
}
# Tables people may read; `purge_audit` and `ingest_watermarks` are bookkeeping, not answers.
READABLE_TABLES = ("logs", "templates", "system_catalog", "quarantine", "landing_files")
READABLE = frozenset(VIEW_COLUMNS) | frozenset(READABLE_TABLES)
# What the question engines read: the views over every tier, never `logs` (the hot tier only).
PROMPT_RELATIONS = ("logs_labelled", "templates", "system_catalog", "quarantine")


def columns_of(relation: str) -> tuple[tuple[str, str, str], ...]:
    return VIEW_COLUMNS.get(relation) or tables.TABLES[relation]


def describe(relations: tuple[str, ...] = PROMPT_RELATIONS) -> str:
    """The schema as the LLM reads it: one block per relation, a line per column with its description."""
    blocks = []
    for relation in relations:
        lines = [f"  {name} {kind.split(' USING')[0].split(' GENERATED')[0].split(' NOT NULL')[0]}  -- {text}"
                 for name, kind, text in columns_of(relation) if name not in ("partition_key", "line_no", "n_lines")]
        blocks.append(f"{relation}(\n" + "\n".join(lines) + "\n)")
    return "\n".join(blocks)
