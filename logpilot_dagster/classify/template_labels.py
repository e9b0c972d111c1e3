"""Label every template in the `templates` table once, through rules → model → LLM, and write the label,
its confidence and the deciding tier back; `logs_labelled` then shows each line with them.

Templates are classified from their masked example line (what the model is trained on), keyed by template
id. Decisions are cached in a JSON file next to the models: a template already decided by the same
classifier (promoted model version and rules file) costs nothing, so a re-run only pays for new templates,
and the LLM is asked at most once per template that rules and model could not settle.
Human corrections (`labels/corrections.csv`) are pinned to the templates whose example has the same key.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from logpilot_dagster.classify.examples import read_labelled_csv
from logpilot_dagster.classify.keys import template_key
from logpilot_dagster.classify.labels import TIER_UNCLASSIFIED
from logpilot_dagster.classify.router import Classification
from logpilot_dagster.store import tables


@dataclass
class TemplateLabelling:
    templates: int = 0
    decided_now: int = 0  # templates that went through the tiers in this run (cache misses)
    from_cache: int = 0
    llm_calls: int = 0
    templates_by_tier: Counter = field(default_factory=Counter)
    lines_by_tier: Counter = field(default_factory=Counter)
    templates_by_label: Counter = field(default_factory=Counter)
    lines_by_label: Counter = field(default_factory=Counter)
    unclassified_reasons: Counter = field(default_factory=Counter)


def classifier_identity(classifier) -> str:
    """What a cached decision depends on: the model version in use and the rules file."""
    model = classifier.model
    model_id = f"{model.created_at}:{model.embedder_name}:{classifier.router.threshold}" if model else "no-model"
    return f"{model_id}|{classifier.router.rules.origin}|{len(classifier.router.rules)}"


def label_templates(con: duckdb.DuckDBPyConnection, classifier, cache_path: str | Path | None = None,
                    corrections: str | Path | None = None) -> TemplateLabelling:
    """Classify each template (cached) and write label, label_confidence, label_tier in one transaction."""
    return label_templates_between(lambda: nullcontext(con), classifier, cache_path, corrections)


def label_templates_between(connect: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]], classifier,
                            cache_path: str | Path | None = None, corrections: str | Path | None = None
                            ) -> TemplateLabelling:
    """`label_templates` with the warehouse open only to read the templates and to write their labels, not
    while they are classified (the model, the LLM and saving the embeddings can take seconds): the live writer
    and readers, who wait for the file, are not kept waiting. A template added in between is labelled by the
    next run; labels are written by template id."""
    with connect() as con:
        rows = tables.templates_to_label(con)
    identity = classifier_identity(classifier)
    cache = _read_cache(cache_path, identity)
    pinned = _pin_corrections(classifier, rows, corrections)
    summary = TemplateLabelling(templates=len(rows))
    keys = {r[0]: _cache_key(r) for r in rows}
    todo = [r for r in rows if keys[r[0]] not in cache or r[0] in pinned]
    summary.from_cache = len(rows) - len(todo)
    if todo:
        decisions = classifier.classify([(r[1], r[3]) for r in todo], templates=[r[0] for r in todo])
        for row, decision in zip(todo, decisions, strict=True):
            if decision.tier != TIER_UNCLASSIFIED:  # unsettled ones are retried when a tier becomes available
                cache[keys[row[0]]] = decision.as_dict()
        summary.decided_now = len(todo)
        summary.llm_calls = classifier.router.stats.llm_calls
        fresh = {row[0]: decision for row, decision in zip(todo, decisions, strict=True)}
    else:
        fresh = {}
    out = []
    for template_id, _, _, _, count in rows:
        decision = fresh.get(template_id) or Classification(**cache[keys[template_id]])
        out.append((template_id, decision.target_label, decision.confidence, decision.tier))
        summary.templates_by_tier[decision.tier] += 1
        summary.lines_by_tier[decision.tier] += count
        summary.templates_by_label[decision.target_label] += 1
        summary.lines_by_label[decision.target_label] += count
        if decision.tier == TIER_UNCLASSIFIED:
            summary.unclassified_reasons[decision.reason.split(";")[-1].strip()[:120]] += 1
    with connect() as con:
        _write_labels(con, out)
    _write_cache(cache_path, identity, cache)
    classifier.save_embeddings()
    return summary


def _cache_key(row: tuple) -> str:
    template_id, source, _, example, _ = row
    return f"{source}\x00{template_id}\x00{template_key(example)}"


def _pin_corrections(classifier, rows: list[tuple], corrections: str | Path | None) -> set[str]:
    """Pin each template a human corrected (`labels/corrections.csv`) in the router; the ids pinned."""
    if corrections is None or not Path(corrections).is_file():
        return set()
    fixes = read_labelled_csv(Path(corrections), "human")
    wanted = {(s, template_key(m)): label for s, m, label in
              zip(fixes["source"], fixes["log_message"], fixes["target_label"], strict=True)}
    pinned = set()
    for template_id, source, _, example, _ in rows:
        label = wanted.get((source, template_key(example)))
        if label is not None:
            classifier.router.pin(source, template_id, label)
            pinned.add(template_id)
    return pinned


def _write_labels(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    columns = list(zip(*rows, strict=True)) if rows else [[], [], [], []]
    tables.write_template_labels(con, pa.table({
        "template_id": pa.array(columns[0], pa.string()), "label": pa.array(columns[1], pa.string()),
        "label_confidence": pa.array(columns[2], pa.float64()), "label_tier": pa.array(columns[3], pa.string())}))


def _read_cache(path: str | Path | None, identity: str) -> dict:
    if path is None or not Path(path).is_file():
        return {}
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if payload.get("classifier") != identity:
        # Another model or rules file: only human decisions carry over.
        return {k: v for k, v in payload.get("decisions", {}).items() if v.get("tier") == "human"}
    return payload.get("decisions", {})


def _write_cache(path: str | Path | None, identity: str, cache: dict) -> None:
    if path is None:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"classifier": identity, "decisions": cache}), encoding="utf-8")
    tmp.replace(path)
