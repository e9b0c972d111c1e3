"""ask_evaluation: how well the question engines answer the golden questions over this warehouse."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    MaterializeResult,
    MetadataValue,
    asset,
)

from logpilot_dagster.assets.reporting import markdown_table, rounded
from logpilot_dagster.resources.chroma import ChromaResource
from logpilot_dagster.resources.embedder import EmbedderResource
from logpilot_dagster.resources.llm import LLMResource
from logpilot_dagster.resources.storage import LogPilotStorage

EVALUATION_GROUP = "evaluation"
PARSER_MEETS_GOAL = "parser_answers_golden_questions"
PARSER_GOAL = 0.9


@asset(deps=["template_vectors", "runbook_index"], group_name=EVALUATION_GROUP, kinds={"python"},
       check_specs=[AssetCheckSpec(PARSER_MEETS_GOAL, asset="ask_evaluation",
                                   description=f"The built-in parser answers >= {PARSER_GOAL:.0%} of the golden "
                                               "questions of its shapes exactly, and declines the rest.")])
def ask_evaluation(storage: LogPilotStorage, llm: LLMResource, embedder: EmbedderResource,
                   chroma: ChromaResource) -> MaterializeResult:
    """Both question engines (built-in parser, LLM pilot) on the golden questions in ask/golden/: exact result
    match against hand-written SQL run on this warehouse, per question shape; runbook questions must cite the
    right runbook, unsupported ones must be declined. Written to models/ask_evaluation.json (ids and verdicts,
    no rows)."""
    from logpilot_dagster.ask.evaluation import evaluate_engines
    from logpilot_dagster.store.versions import write_json

    layout = storage.layout()
    vectors = embedder.for_store(layout.classifier_store)
    index = chroma.index(layout, vectors)
    scores = evaluate_engines(layout, llm.config(), index_factory=lambda: index)
    write_json(layout.models / "ask_evaluation.json", {name: s.to_dict(reasons=False) for name, s in scores.items()})
    metadata: dict = {}
    for name, score in scores.items():
        if score.disabled:
            metadata[f"{name}/status"] = score.disabled
            continue
        metadata[f"{name}/accuracy"] = rounded(score.accuracy)
        metadata[f"{name}/declined_unsupported"] = rounded(score.declined_unsupported)
        metadata[f"{name}/wrong_answers"] = score.wrong
        metadata[f"{name}/questions"] = len(score.outcomes)
        metadata[f"{name}/per_shape"] = MetadataValue.md(markdown_table(
            ["shape", "questions", "match", "declined", "wrong", "error"],
            [(shape, c["questions"], c.get("match", 0), c.get("declined", 0), c.get("wrong", 0), c.get("error", 0))
             for shape, c in score.per_shape().items()]))
    parser = scores["parser"]
    passed = parser.accuracy >= PARSER_GOAL and parser.declined_unsupported == 1.0
    return MaterializeResult(metadata=metadata, check_results=[AssetCheckResult(
        check_name=PARSER_MEETS_GOAL, passed=passed, severity=AssetCheckSeverity.WARN,
        metadata={"accuracy": rounded(parser.accuracy), "wrong_answers": parser.wrong})])
