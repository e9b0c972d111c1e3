"""training_set (every labelled example, as Parquet) and template_labels (each template's label in DuckDB)."""

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from dagster_duckdb import DuckDBResource

from logpilot_dagster.assets.reporting import bar_chart, markdown_table
from logpilot_dagster.classify.classifier import (
    ClassifierConfig,
    HybridClassifier,
    default_model_store,
)
from logpilot_dagster.classify.examples import LLM_ANSWERS_FILE
from logpilot_dagster.classify.model import PROMOTED_FILE
from logpilot_dagster.classify.template_labels import CACHE_FILE, label_templates
from logpilot_dagster.classify.training_data import (
    GROUND_TRUTH_FILE,
    TRAINING_SET_FILE,
    assemble_training_set,
    write_training_set,
)
from logpilot_dagster.resources.llm import LLMResource
from logpilot_dagster.resources.storage import LogPilotStorage

CLASSIFICATION_GROUP = "classification"


@asset(deps=["logs"], group_name=CLASSIFICATION_GROUP, pool="duckdb", kinds={"parquet"})
def training_set(context: AssetExecutionContext, storage: LogPilotStorage,
                 duckdb: DuckDBResource) -> MaterializeResult:
    """Labelled examples for the model tier: CSVs in labels/, the generator's ground truth joined to `logs`,
    kept LLM answers and human corrections (which win), one row per line, in labels/training_set.parquet."""
    layout = storage.layout()
    with duckdb.get_connection() as con:
        frame = assemble_training_set(con, layout.labels, layout.sample_truth / GROUND_TRUTH_FILE)
    path = write_training_set(frame, layout.labels / TRAINING_SET_FILE)
    per_label = frame["target_label"].value_counts().to_dict()
    per_source = frame["label_source"].value_counts().to_dict()
    context.log.info(f"training set: {len(frame)} rows, {len(per_label)} labels -> {path}")
    return MaterializeResult(metadata={
        "path": str(path), "rows": len(frame), "templates": int(frame["template_id"].nunique()),
        "rows_per_label": MetadataValue.md(bar_chart(per_label, "label")),
        "rows_per_label_source": MetadataValue.md(bar_chart(per_source, "label_source")),
        **{f"label_source/{k}": int(v) for k, v in per_source.items()},
        "dagster/row_count": len(frame),
    })


class TemplateLabelsConfig(Config):
    threshold: float | None = None  # None: the promoted model's own threshold
    use_rules: bool = True


@asset(deps=["templates", "log_classifier"], group_name=CLASSIFICATION_GROUP, pool="duckdb", kinds={"duckdb"})
def template_labels(context: AssetExecutionContext, config: TemplateLabelsConfig, storage: LogPilotStorage,
                    duckdb: DuckDBResource, llm: LLMResource) -> MaterializeResult:
    """Each template's label, confidence and deciding tier (rules → promoted model → LLM), written into
    `templates`; the `logs_labelled` view shows every line with them. Decided once per template (cached)."""
    layout = storage.layout()
    store = default_model_store(layout)
    from logpilot_dagster.assets.models import shared_embedder

    promoted = (store / PROMOTED_FILE).is_file()
    embedder = shared_embedder("", store)
    classifier = HybridClassifier(embedder=embedder, config=ClassifierConfig(
        model_dir=str(store) if promoted else None, use_model=promoted, use_rules=config.use_rules,
        threshold=config.threshold, llm=llm.config(), llm_answers_csv=str(layout.labels / LLM_ANSWERS_FILE)))
    with duckdb.get_connection() as con:
        result = label_templates(con, classifier, layout.models / CACHE_FILE, corrections_dir=layout.labels)
    tiers = classifier.tiers()
    lines = sum(result.lines_by_tier.values()) or 1
    coverage = {tier: f"{n / lines:.2%} of lines, {result.templates_by_tier[tier]} templates"
                for tier, n in sorted(result.lines_by_tier.items())}
    context.log.info(f"labelled {result.templates} templates ({result.decided_now} decided now, "
                     f"{result.llm_calls} LLM calls); LLM tier: {tiers['llm']['reason'] or 'enabled'}")
    return MaterializeResult(metadata={
        "templates": result.templates, "decided_now": result.decided_now, "from_cache": result.from_cache,
        "llm_calls": result.llm_calls,
        "llm_tier": tiers["llm"]["reason"] or f"enabled ({tiers['llm']['model']})",
        "model_tier": "enabled" if tiers["model"]["enabled"] else "no promoted model",
        "lines_per_label": MetadataValue.md(bar_chart(dict(result.lines_by_label), "label")),
        "templates_per_label": MetadataValue.md(bar_chart(dict(result.templates_by_label), "label")),
        "coverage_per_tier": MetadataValue.md(markdown_table(["tier", "coverage"], coverage.items())),
        "unclassified_reasons": MetadataValue.md(bar_chart(dict(result.unclassified_reasons), "reason")),
    })
