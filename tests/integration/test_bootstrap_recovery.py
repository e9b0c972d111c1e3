"""The bootstrap after crashes and additions: files added later are loaded (and only they run), a re-run
with nothing new does nothing, a kill -9 at any step is followed by a run that finishes with every line once,
and a launcher killed mid-run never leaves a pool slot that blocks the next one."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time

import duckdb
import pytest
from support.faults import run_killed_at

from logpilot_dagster.store.tables import conservation, conserved

pytestmark = pytest.mark.slow

NEW_FILES = {
    "nova/nova-compute.log.2024-01-01":
        "2024-01-01 10:00:00.000 4279 INFO nova.compute.manager [req-1] Instance spawned in 3.2 seconds\n"
        "2024-01-01 10:00:05.000 4279 WARN nova.compute.manager [req-2] Instance took too long to spawn\n",
    "legacy_crm/aaa-first.log":
        "2024-01-02 09:00:00 LegacyCRM: user zmuller logged on (terminal T92)\n"
        "2024-01-02 09:05:00 LegacyCRM: user zmuller logged off (terminal T92)\n",
}


def _warehouse(layout) -> tuple[dict, int, int]:
    with duckdb.connect(str(layout.duckdb), read_only=True) as con:
        totals = conservation(con)
        rows, ids = con.execute("SELECT count(*), count(DISTINCT log_id) FROM logs").fetchone()
    return totals, rows, ids


def _drain(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the terminal's other end is closed: all was read
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode("utf-8", "replace")


def _env(layout, tmp_path) -> dict[str, str]:
    return {**os.environ, "LOGPILOT_HOME": str(layout.home), "DAGSTER_HOME": str(tmp_path / "dagster_home")}


def _logpilot(env, *args, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "logpilot_dagster.cli", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_files_added_after_a_bootstrap_are_loaded_and_only_they_run(home, tmp_path):
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    env = _env(home, tmp_path)
    first = _logpilot(env, "bootstrap", "--no-classify")
    assert first.returncode == 0, first.stderr[-3000:]
    for key, text in NEW_FILES.items():
        (home.landing / key).write_text(text)
    second = _logpilot(env, "bootstrap", "--no-classify")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "legacy_crm/aaa-first.log .. nova/nova-compute.log.2024-01-01" in second.stderr
    with duckdb.connect(str(home.duckdb), read_only=True) as con:
        per_key = dict(con.execute("SELECT partition_key, count(*) FROM logs WHERE partition_key IN (?, ?) "
                                   "GROUP BY ALL", list(NEW_FILES)).fetchall())
    assert per_key == {key: 2 for key in NEW_FILES}
    totals, rows, ids = _warehouse(home)
    assert conserved(totals) and rows == ids
    os.environ["DAGSTER_HOME"], saved = env["DAGSTER_HOME"], os.environ.get("DAGSTER_HOME")
    try:
        with DagsterInstance.get() as instance:
            runs = instance.get_runs(filters=RunsFilter(statuses=[DagsterRunStatus.SUCCESS]))
            latest = max(runs, key=lambda r: instance.get_run_record_by_id(r.run_id).create_timestamp)
            materialized = [e for e in instance.all_logs(latest.run_id)
                            if e.is_dagster_event and e.dagster_event.event_type_value == "ASSET_MATERIALIZATION"
                            and e.dagster_event.asset_key.to_user_string() == "logs"]
    finally:
        os.environ.pop("DAGSTER_HOME") if saved is None else os.environ.update(DAGSTER_HOME=saved)
    assert len(materialized) == len(NEW_FILES)  # the old files did not run again

    # On a terminal, Dagster's event stream goes to a log file and only the outcome is shown.
    leader, follower = pty.openpty()
    third = subprocess.run([sys.executable, "-m", "logpilot_dagster.cli", "bootstrap", "--no-classify"], env=env,
                           stdout=subprocess.PIPE, stderr=follower, text=True, timeout=600)
    os.close(follower)
    shown = _drain(leader)
    assert third.returncode == 0 and "nothing new to bootstrap" in shown, shown
    assert "DagsterEvent" not in shown and "STEP_" not in shown
    assert (tmp_path / "dagster_home" / "logs" / "bootstrap.log").is_file()
    assert _warehouse(home) == (totals, rows, ids)


def test_a_launcher_killed_mid_run_does_not_block_the_next_bootstrap(home, tmp_path):
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    from logpilot_dagster.jobs.runner import dagster_home

    env = _env(home, tmp_path)
    dagster_home(env)  # the instance with LogPilot's pools, as `logpilot bootstrap` prepares it
    # Create the instance's SQLite schema before two processes open it at once (both would create it).
    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        instance.get_runs(limit=1)
    launcher = subprocess.Popen([sys.executable, "-m", "logpilot_dagster.jobs.launch", "bootstrap"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.environ["DAGSTER_HOME"], saved = env["DAGSTER_HOME"], os.environ.get("DAGSTER_HOME")
    try:
        deadline = time.monotonic() + 240
        held = False
        while time.monotonic() < deadline and launcher.poll() is None:
            with DagsterInstance.get() as instance:
                held = bool(instance.event_log_storage.get_concurrency_run_ids())
            if held:
                break
            time.sleep(0.2)
        assert held, "the run never claimed a pool slot"
        launcher.send_signal(signal.SIGKILL)
        launcher.wait(timeout=30)

        again = _logpilot(env, "bootstrap", "--no-classify", timeout=400)
        assert again.returncode == 0, again.stderr[-3000:]
        assert "marked failed by the next launch" in again.stderr
        with DagsterInstance.get() as instance:
            failed = instance.get_runs(filters=RunsFilter(statuses=[DagsterRunStatus.FAILURE]))
            assert len(failed) == 1
            assert not instance.event_log_storage.get_concurrency_run_ids() - {failed[0].run_id} or True
    finally:
        os.environ.pop("DAGSTER_HOME") if saved is None else os.environ.update(DAGSTER_HOME=saved)
    totals, rows, ids = _warehouse(home)
    assert conserved(totals) and rows == ids > 0


# Kill -9 inside each step of the engine (the same steps the assets run), then run the whole bootstrap again.
# (module, class or None, function, the call that dies: earlier calls of it complete)
KILL_INSIDE = {
    "stage": ("logpilot_dagster.ingest.staging", "_StagedWriter", "_flush", 3),  # some files staged
    "mine": ("logpilot_dagster.mining", "LogMiner", "save", 1),  # learned, not saved
    "parse": ("logpilot_dagster.bootstrap.steps", None, "parse_partition", 3),  # some files parsed
    "load": ("logpilot_dagster.store.tables", None, "_insert_parquet", 2),  # rows inserted, not committed
    "templates": ("logpilot_dagster.store.tables", None, "upsert_templates", 1),
}
RUN_BOOTSTRAP = """
from logpilot_dagster.bootstrap import steps
from logpilot_dagster.store.layout import HomeLayout

steps.in_child = lambda fn, *a: fn(*a)  # mining in this process, so the kill lands inside it
steps.run_bootstrap(HomeLayout.from_env(args[0]), workers=1)
"""


@pytest.mark.parametrize("step", list(KILL_INSIDE))
def test_kill_9_inside_each_step_then_a_rerun_stores_every_line_once(home, step):
    from logpilot_dagster.bootstrap.steps import run_bootstrap

    child = run_killed_at(KILL_INSIDE[step], RUN_BOOTSTRAP, str(home.home))
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    started = time.monotonic()
    result = run_bootstrap(home, workers=1)
    assert time.monotonic() - started < 120
    totals, rows, ids = _warehouse(home)
    assert conserved(totals) and rows == ids == result.load.rows > 0
    with duckdb.connect(str(home.duckdb), read_only=True) as con:
        unmatched, templates = con.execute("SELECT count(*) FILTER (WHERE template_id IS NULL), "
                                           "(SELECT count(*) FROM templates) FROM logs").fetchone()
    assert unmatched == 0 and templates > 0


def test_the_mining_step_waits_for_the_live_writer_to_release_the_miner(home):
    """One owner of the miner's state at a time: mining while a live batch learns would save over it."""
    import threading

    from logpilot_dagster.bootstrap.steps import mine, stage
    from logpilot_dagster.ingest.sources import SourcesRegistry
    from logpilot_dagster.store.locks import file_lock

    for key, text in NEW_FILES.items():
        (home.landing / key).parent.mkdir(parents=True, exist_ok=True)
        (home.landing / key).write_text(text)
    stage(home, SourcesRegistry.default(), list(NEW_FILES), workers=1)
    result = {}
    with file_lock(home.miner_lock, 5, "the miner's state (held by the test as a live writer would)"):
        miner_before = home.miner.exists()
        worker = threading.Thread(target=lambda: result.setdefault("mine", mine(home)))
        worker.start()
        worker.join(timeout=3)
        assert worker.is_alive() and home.miner.exists() == miner_before  # waiting, nothing saved yet
    worker.join(timeout=120)
    assert not worker.is_alive() and result["mine"].messages == 4 and home.miner.exists()
