"""A Dagster instance prepared and read from outside a run, for what drives a real `dagster-daemon` (the
sensor freshness benchmark): LogPilot's dagster.yaml, the schema created first, the landing files registered,
and what the daemon's sensors and runs did."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus

# Tick states have no public import in Dagster (none in the installed release either).
from dagster._core.scheduler.instigation import InstigatorType, TickStatus

from logpilot_dagster.jobs.launch import open_instance, register_landing_files
from logpilot_dagster.jobs.runner import dagster_home
from logpilot_dagster.store.layout import HomeLayout, safe_keys


def prepare(layout: HomeLayout, path: Path) -> Path:
    """A fresh DAGSTER_HOME at `path` for `layout`: LogPilot's dagster.yaml, the SQLite schema created before a
    daemon starts (two processes creating it race), and the landing files registered as partitions, as
    `logpilot bootstrap` leaves them (unregistered, `landing_sensor` would bootstrap them all again)."""
    home = dagster_home({"DAGSTER_HOME": str(path)})
    keys, _ = safe_keys(layout.landing_keys())
    with open_instance(home) as instance:
        register_landing_files(instance, keys)
    return home


def sensor_ticked(instance: DagsterInstance, name: str) -> bool:
    """Whether the sensor `name` has evaluated at least once (skipped or with run requests)."""
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.instigator_name == name:
            ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=5)
            return any(t.status in (TickStatus.SKIPPED, TickStatus.SUCCESS) for t in ticks)
    return False


def run_summary(path: Path) -> tuple[dict[str, int], list[str]]:
    """Runs by `job:status`, and the first error line of each failed run."""
    with open_instance(path) as instance:
        runs = instance.get_runs()
        errors = []
        for run in runs:
            if run.status != DagsterRunStatus.FAILURE:
                continue
            failed = instance.get_records_for_run(run.run_id, of_type={DagsterEventType.STEP_FAILURE,
                                                                       DagsterEventType.RUN_FAILURE}).records
            for record in failed[:1]:
                data = record.event_log_entry.dagster_event.event_specific_data
                error = getattr(data, "error", None)
                text = error.message.strip() if error else record.event_log_entry.message
                errors.append(f"{run.job_name} {run.run_id[:8]}: {text[:300]}")
    return dict(sorted(Counter(f"{r.job_name}:{r.status.value}" for r in runs).items())), errors
