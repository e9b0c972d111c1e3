"""The one Definitions object: every asset, check, job, sensor and resource LogPilot has."""

from __future__ import annotations

from dagster import Definitions
from dagster_duckdb import DuckDBResource

from logpilot_dagster.assets.evaluation import evaluation_report
from logpilot_dagster.assets.labels import template_labels, training_set
from logpilot_dagster.assets.lifecycle import cold_tier, purge_receipts, warm_tier
from logpilot_dagster.assets.live import live_logs
from logpilot_dagster.assets.models import kv_ner_model, log_classifier
from logpilot_dagster.assets.parsed import parsed_logs
from logpilot_dagster.assets.questions import ask_evaluation
from logpilot_dagster.assets.staging import staged_logs
from logpilot_dagster.assets.templates import log_templates, template_coverage_check, templates
from logpilot_dagster.assets.vectors import runbook_index, template_vectors
from logpilot_dagster.assets.warehouse import bootstrap_watermark, logs_and_quarantine, system_catalog
from logpilot_dagster.jobs.jobs import bootstrap_job, vectors_job
from logpilot_dagster.jobs.lifecycle import lifecycle_job, lifecycle_schedule, purge_job, purge_sensor
from logpilot_dagster.jobs.live import live_ingest_job, live_ingest_sensor
from logpilot_dagster.jobs.retraining import classification_job, new_labels_sensor, retrain_schedule
from logpilot_dagster.jobs.sensors import landing_sensor
from logpilot_dagster.resources.chroma import ChromaResource
from logpilot_dagster.resources.embedder import EmbedderResource
from logpilot_dagster.resources.llm import LLMResource
from logpilot_dagster.resources.storage import LogPilotStorage
from logpilot_dagster.resources.stream import LogStreamResource
from logpilot_dagster.store.layout import HomeLayout


def build_definitions(home: str | None = None) -> Definitions:
    """Definitions for a LogPilot home (default: $LOGPILOT_HOME or ./.logpilot). No I/O happens here."""
    layout = HomeLayout.from_env(home)
    return Definitions(
        assets=[staged_logs, log_templates, parsed_logs, logs_and_quarantine, templates, system_catalog,
                bootstrap_watermark, training_set, log_classifier, kv_ner_model, template_labels, evaluation_report,
                template_vectors, runbook_index, ask_evaluation, warm_tier, cold_tier, purge_receipts, live_logs],
        asset_checks=[template_coverage_check],
        jobs=[bootstrap_job, classification_job, vectors_job, lifecycle_job, purge_job, live_ingest_job],
        schedules=[retrain_schedule, lifecycle_schedule],
        sensors=[landing_sensor, new_labels_sensor, purge_sensor, live_ingest_sensor],
        resources={
            "storage": LogPilotStorage(home=str(layout.home)),
            "duckdb": DuckDBResource(database=str(layout.duckdb)),
            "llm": LLMResource(),
            "embedder": EmbedderResource(),
            "chroma": ChromaResource(),
            "stream": LogStreamResource(),
        },
    )


defs = build_definitions()
