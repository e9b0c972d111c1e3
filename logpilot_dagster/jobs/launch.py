"""Run a job of the Definitions on the persistent Dagster instance, from the command line.

    python -m logpilot_dagster.jobs.launch bootstrap        # the landing files not yet loaded
    python -m logpilot_dagster.jobs.launch classification_job
    python -m logpilot_dagster.jobs.launch prepare          # only make the instance's tables (`make ui`)

does what a launch from the web UI does, minus the daemon: each run is recorded in $DAGSTER_HOME, so `make ui`
shows it afterwards. Before launching, runs that a killed launcher left STARTED are marked failed and the pool
slots they held are released, so a later bootstrap never waits on a dead run.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from pathlib import Path

from dagster import (
    AssetKey,
    DagsterInstance,
    DagsterRunStatus,
    JobDefinition,
    RunsFilter,
    build_reconstructable_job,
    execute_job,
)

from logpilot_dagster.jobs.partitions import RANGE_END_TAG, RANGE_START_TAG, landing_files_partitions
from logpilot_dagster.jobs.runner import dagster_home
from logpilot_dagster.store.layout import HomeLayout, safe_keys
from logpilot_dagster.store.locks import file_lock

LAUNCHER_PID_TAG = "logpilot/launcher_pid"
LAUNCHER_HOST_TAG = "logpilot/launcher_host"
BOOTSTRAP_JOB = "bootstrap_job"
_UNFINISHED = [DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]
SCHEMA_WAIT_S = 120.0  # how long a process waits for another making a fresh instance's tables


def open_instance(home: Path | None = None) -> DagsterInstance:
    """The instance at `home` (default $DAGSTER_HOME, made with LogPilot's dagster.yaml if need be), its storages'
    tables made first under a lock: processes making a fresh instance's SQLite tables at once (a bootstrap,
    the web UI, the daemon) fail on each other's migrations ("more than one head")."""
    home = home if home is not None else dagster_home()
    with file_lock(home / "schema.lock", SCHEMA_WAIT_S, "another process making Dagster's tables"):
        instance = DagsterInstance.from_config(str(home))
        try:
            instance.get_runs(limit=1)  # each storage makes its tables when first used
            instance.all_instigator_state()
            instance.get_dynamic_partitions(landing_files_partitions.name)
        except BaseException:
            instance.dispose()
            raise
    return instance


def resolve_job(name: str) -> JobDefinition:
    from logpilot_dagster.definitions import defs

    return defs.resolve_job_def(name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def release_dead_runs(instance: DagsterInstance) -> list[str]:
    """Mark failed the runs a launcher on this host started and that outlived it (kill -9, power cut), and
    free every pool slot still held by a run that has finished. Returns what was done, one line each."""
    done = []
    host = socket.gethostname()
    for run in instance.get_runs(filters=RunsFilter(statuses=_UNFINISHED)):
        pid = run.tags.get(LAUNCHER_PID_TAG)
        if pid is None or run.tags.get(LAUNCHER_HOST_TAG) != host or not pid.isdigit() or _alive(int(pid)):
            continue
        message = f"launcher process {pid} is gone (killed?): run marked failed by the next launch"
        instance.report_run_failed(run, message)
        done.append(f"run {run.run_id} ({run.job_name}): {message}")
    storage = instance.event_log_storage
    holding = list(storage.get_concurrency_run_ids()) if storage.supports_global_concurrency_limits else []
    if holding:
        finished = {r.run_id for r in instance.get_runs(filters=RunsFilter(run_ids=holding)) if r.is_finished}
        for run_id in sorted(finished):
            storage.free_concurrency_slots_for_run(run_id)
            done.append(f"run {run_id}: released the pool slots it still held")
    return done


def register_landing_files(instance: DagsterInstance, keys: list[str]) -> None:
    """Add the landing files Dagster does not know yet as partitions (in the order given)."""
    known = set(instance.get_dynamic_partitions(landing_files_partitions.name))
    new = [k for k in keys if k not in known]
    if new:
        instance.add_dynamic_partitions(landing_files_partitions.name, new)


def pending_ranges(instance: DagsterInstance, keys: list[str]) -> list[tuple[str, str]]:
    """Register the landing files Dagster does not know yet, then group the partitions whose `logs` are not
    materialized into runs: one per contiguous stretch of Dagster's partition order (the order they were
    added, not sorted), so every pending file runs and no loaded file runs again."""
    register_landing_files(instance, keys)
    order = instance.get_dynamic_partitions(landing_files_partitions.name)
    loaded = instance.get_materialized_partitions(AssetKey("logs"))
    wanted = set(keys)
    ranges: list[tuple[str, str]] = []
    start = end = None
    for key in order:
        if key in wanted and key not in loaded:
            start = start or key
            end = key
        elif start is not None and key not in wanted and key not in loaded:
            continue  # a registered key whose file is gone: not part of a run, but it does not split one
        elif start is not None:
            ranges.append((start, end))
            start = end = None
    if start is not None:
        ranges.append((start, end))
    return ranges


def launch(instance: DagsterInstance, job_name: str, tags: dict[str, str]) -> bool:
    job = build_reconstructable_job(__name__, "resolve_job", reconstructable_args=(job_name,))
    tags = {**tags, LAUNCHER_PID_TAG: str(os.getpid()), LAUNCHER_HOST_TAG: socket.gethostname()}
    result = execute_job(job, instance=instance, tags=tags)
    print(f"run {result.run_id} ({job_name}): {'SUCCESS' if result.success else 'FAILURE'}", file=sys.stderr)
    return result.success


def bootstrap(instance: DagsterInstance, layout: HomeLayout) -> int:
    """Exit 0 when every landing file is loaded (3 when there was nothing new), 1 when a run failed."""
    keys, refused = safe_keys(layout.landing_keys())
    for key, why in refused.items():
        print(f"skipping {key!r}: {why}", file=sys.stderr)
    ranges = pending_ranges(instance, keys)
    if not ranges:
        print(f"nothing new to bootstrap: all {len(keys)} landing files are loaded", file=sys.stderr)
        return 3
    ok = True
    for start, end in ranges:
        print(f"running {BOOTSTRAP_JOB} over landing files {start} .. {end}", file=sys.stderr)
        ok = launch(instance, BOOTSTRAP_JOB, {RANGE_START_TAG: start, RANGE_END_TAG: end}) and ok
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m logpilot_dagster.jobs.launch")
    parser.add_argument("job", help="a job name, `bootstrap` for the landing files not yet loaded, or `prepare`")
    parser.add_argument("--home", help="LogPilot home (default $LOGPILOT_HOME or ./.logpilot)")
    parser.add_argument("--tags", default="{}", help="run tags as a JSON object")
    args = parser.parse_args(argv)
    with open_instance() as instance:
        if args.job == "prepare":
            return 0
        for line in release_dead_runs(instance):
            print(line, file=sys.stderr)
        if args.job == "bootstrap":
            return bootstrap(instance, HomeLayout.from_env(args.home))
        return 0 if launch(instance, args.job, json.loads(args.tags)) else 1


if __name__ == "__main__":
    sys.exit(main())
