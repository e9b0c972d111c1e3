"""training_set (every labelled example, as Parquet) and template_labels (each template's label in DuckDB)."""

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from dagster_duckdb import DuckDBResource

from logpilot_dagster.assets.reporting import bar_chart, markdown_table
from logpilot_dagster.classify.classifier import ClassifierConfig, HybridClassifier
from logpilot_dagster.classify.template_labels import label_templates
from logpilot_dagster.classify.training_data import assemble_training_set, write_training_set
from logpilot_dagster.resources.embedder import EmbedderResource
from logpilot_dagster.resources.llm import LLMResource
from logpilot_dagster.resources.storage import LogPilotStorage
from logpilot_dagster.store.versions import VersionStore

CLASSIFICATION_GROUP = "classification"


@asset(deps=["logs"], group_name=CLASSIFICATION_GROUP, pool="duckdb", kinds={"parquet"})
def training_set(context: AssetExecutionContext, storage: LogPilotStorage,
                 duckdb: DuckDBResource) -> MaterializeResult:
    """Labelled examples for the model tier: CSVs in labels/, the generator's ground truth joined to `logs`,
    kept LLM answers and human corrections (which win), one row per line, in labels/training_set.parquet."""
    layout = storage.layout()
    with duckdb.get_connection() as con:
        frame = assemble_training_set(con, layout)
    path = write_training_set(frame, layout.training_set)
    per_label = frame["target_label"].value_counts().to_dict()
    per_source = frame["label_source"].value_counts().to_dict()
    context.log.info(f"training set: {len(frame):,} rows, {len(per_label)} labels -> {path}")
    return MaterializeResult(metadata={
        "dagster/row_count": len(frame), "templates": int(frame["template_id"].nunique()),
        "rows_per_label": MetadataValue.md(bar_chart(per_label, "label")),
        "rows_per_label_source": MetadataValue.md(bar_chart(per_source, "label_source")),
        **{f"label_source/{k}": int(v) for k, v in per_source.items()},
    })


class TemplateLabelsConfig(Config):
    threshold: float | None = None  # None: the promoted model's own threshold
    use_rules: bool = True


@asset(deps=["templates", "log_classifier"], group_name=CLASSIFICATION_GROUP, pool="duckdb", kinds={"duckdb"})
def template_labels(context: AssetExecutionContext, config: TemplateLabelsConfig, storage: LogPilotStorage,
                    duckdb: DuckDBResource, llm: LLMResource, embedder: EmbedderResource) -> MaterializeResult:
    """Each template's label, confidence and deciding tier (rules → promoted model → LLM), written into
    `templates`; the `logs_labelled` view shows every line with them. Decided once per template (cached)."""
    layout = storage.layout()
    store = layout.classifier_store
    promoted = VersionStore(store).promoted_dir()
    classifier = HybridClassifier(embedder=embedder.for_store(store), config=ClassifierConfig(
        model_dir=str(store) if promoted else None, use_model=promoted is not None, use_rules=config.use_rules,
        threshold=config.threshold, llm=llm.config(), llm_answers_csv=str(layout.llm_answers)))
    with duckdb.get_connection() as con:
        result = label_templates(con, classifier, layout.label_cache, corrections=layout.corrections)
    tiers = classifier.tiers()
    lines = sum(result.lines_by_tier.values()) or 1
    coverage = {tier: f"{n / lines:.2%} of lines, {result.templates_by_tier[tier]:,} templates"
                for tier, n in sorted(result.lines_by_tier.items())}
    context.log.info(f"labelled {result.templates:,} templates ({result.decided_now:,} decided now, "
                     f"{result.llm_calls} LLM calls); LLM tier: {tiers['llm']['reason'] or 'enabled'}")
    return MaterializeResult(metadata={
        "templates": result.templates, "decided_now": result.decided_now, "from_cache": result.from_cache,
        "llm_calls": result.llm_calls,
        "model_version": promoted.name if promoted else "none",
        "llm_tier": tiers["llm"]["reason"] or f"enabled ({tiers['llm']['model']})",
        "model_tier": "enabled" if tiers["model"]["enabled"] else "no promoted model",
        "lines_per_label": MetadataValue.md(bar_chart(dict(result.lines_by_label), "label")),
        "templates_per_label": MetadataValue.md(bar_chart(dict(result.templates_by_label), "label")),
        "coverage_per_tier": MetadataValue.md(markdown_table(["tier", "coverage"], coverage.items())),
        "unclassified_reasons": MetadataValue.md(bar_chart(dict(result.unclassified_reasons), "reason")),
    })
