"""template_vectors and runbook_index: the Chroma collections that semantic search and `ask` read."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from logpilot_dagster.resources.chroma import ChromaResource
from logpilot_dagster.resources.embedder import EmbedderResource
from logpilot_dagster.resources.storage import LogPilotStorage

VECTORS_GROUP = "vectors"


# No eager automation: it would start while a bootstrap run holds the DuckDB file, which this reads.
@asset(deps=["templates", "template_labels"], group_name=VECTORS_GROUP, pool="chroma", kinds={"chromadb"})
def template_vectors(context: AssetExecutionContext, storage: LogPilotStorage, embedder: EmbedderResource,
                     chroma: ChromaResource) -> MaterializeResult:
    """Every template (masked text, source, label, count, a masked example) embedded by LogPilot and kept in
    step with `templates` in a Chroma collection: new and changed templates upserted, vanished (purged or
    re-mined) ones deleted. What `logpilot search` and `GET /search` look in."""
    from logpilot_dagster.store import tables
    from logpilot_dagster.vectors.index import TEMPLATES, template_docs

    layout = storage.layout()
    vectors = embedder.for_store(layout.classifier_store)
    with tables.connect(layout.duckdb, read_only=True) as con:
        docs = template_docs(tables.templates_for_index(con))
    result = chroma.index(layout, vectors).sync_templates(docs)
    vectors.save()
    context.log.info(f"template vectors: {result.total:,} templates, {result.upserted:,} embedded, "
                     f"{result.refreshed:,} counts refreshed, {result.deleted:,} deleted")
    return MaterializeResult(metadata={"collection": TEMPLATES, "dagster/row_count": result.total,
                                       "upserted": result.upserted, "deleted": result.deleted,
                                       "refreshed": result.refreshed,
                                       "labelled": sum(1 for d in docs if d.label and d.label != "unclassified"),
                                       "embedder": vectors.name})


@asset(group_name=VECTORS_GROUP, pool="chroma", kinds={"chromadb", "markdown"})
def runbook_index(context: AssetExecutionContext, storage: LogPilotStorage, embedder: EmbedderResource,
                  chroma: ChromaResource) -> MaterializeResult:
    """The Markdown runbooks in runbooks/ cut into passages at their headings and embedded, in a second
    collection: what "why / how do I fix" questions retrieve and cite."""
    from logpilot_dagster.vectors.index import RUNBOOKS
    from logpilot_dagster.vectors.runbooks import read_runbooks

    layout = storage.layout()
    vectors = embedder.for_store(layout.classifier_store)
    passages = read_runbooks(layout.runbooks)
    result = chroma.index(layout, vectors).sync_runbooks(passages)
    vectors.save()
    files = len({p.file for p in passages})
    context.log.info(f"runbook index: {files} runbooks, {result.total} passages ({result.upserted} embedded)")
    return MaterializeResult(metadata={"collection": RUNBOOKS, "runbooks": files, "dagster/row_count": result.total,
                                       "upserted": result.upserted, "deleted": result.deleted,
                                       "folder": str(layout.runbooks)})
