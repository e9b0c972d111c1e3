"""A fresh Dagster instance made by several processes at once: `logpilot bootstrap`, `make ui` (its web UI and
daemon) and the benchmarks all open it through `jobs.launch.open_instance`, which makes the SQLite tables under
a lock. Without it, processes starting together on a fresh DAGSTER_HOME failed on each other's migrations."""

from __future__ import annotations

import os
import subprocess
import sys


def test_three_processes_preparing_a_fresh_instance_at_once_all_succeed(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home"), "LOGPILOT_HOME": str(tmp_path / "home")}
    started = [subprocess.Popen([sys.executable, "-m", "logpilot_dagster.jobs.launch", "prepare"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in started]
    assert [code for code, _ in results] == [0, 0, 0], [err[-400:] for _, err in results]
    assert (tmp_path / "dagster_home" / "dagster.yaml").is_file()
