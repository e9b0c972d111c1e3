"""End to end: a real dagster-webserver (and daemon) on a free loopback port launches the bootstrap
through its GraphQL API; the DuckDB tables it writes satisfy the conservation invariant."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance

from logpilot_dagster.store.layout import HomeLayout
from logpilot_dagster.store.tables import conservation

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
  }
}"""
ADD_PARTITION = """
mutation Add($selector: RepositorySelector!, $name: String!, $key: String!) {
  addDynamicPartition(repositorySelector: $selector, partitionsDefName: $name, partitionKey: $key) {
    __typename
    ... on PythonError { message }
  }
}"""
RUNS = """
query { runsOrError(filter: {pipelineName: "bootstrap_job"}) { ... on Runs { results { runId status } } } }"""
RUN_STATUS = """
query Status($runId: ID!) { runOrError(runId: $runId) { ... on Run { status } } }"""
REPOSITORY = {"repositoryLocationName": "logpilot", "repositoryName": "__repository__"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _graphql(port: int, query: str, variables: dict, timeout: float = 120) -> dict:
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", body,
                                     {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.load(response)
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"GraphQL {exc.code}: {exc.read()[:2000]!r}") from None
    assert "errors" not in payload, payload
    return payload["data"]


def _wait_until_ready(port: int, server: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        assert server.poll() is None, "dagster-webserver exited early"
        try:
            data = _graphql(port, "{ repositoriesOrError { ... on RepositoryConnection { nodes { name } } } }", {},
                            timeout=10)
            if data["repositoriesOrError"].get("nodes"):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1)
    raise AssertionError("dagster-webserver did not load the code location in time")


@pytest.fixture
def small_home(tmp_path):
    """Six weeks of every source (a few dozen landing files): enough for every format and bad class."""
    from logpilot_dagster.samples.generator import generate_sample

    layout = HomeLayout.from_env(tmp_path / "home").ensure()
    layout.landing.rmdir()
    generate_sample(layout.landing, lines=2_000, seed=5, days=42, truth_dir=layout.sample_truth,
                    catalog_path=layout.system_catalog_csv)
    return layout


def test_bootstrap_launched_through_the_webserver(small_home, tmp_path):
    home = small_home
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(ROOT / "logpilot_dagster" / "dagster.yaml", dagster_home / "dagster.yaml")
    # Create the instance's SQLite schema first: the webserver and the daemon, started together on an empty
    # DAGSTER_HOME, both create it, and the loser dies on "table instigators already exists" (seen once:
    # the run then stayed queued with no daemon to start it).
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        instance.get_runs(limit=1)
        instance.all_instigator_state()
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "LOGPILOT_HOME": str(home.home)}
    port = _free_port()
    log = (tmp_path / "webserver.log").open("w")
    server = subprocess.Popen([str(BIN / "dagster-webserver"), "-w", str(ROOT / "workspace.yaml"),
                               "-h", "127.0.0.1", "-p", str(port)], cwd=ROOT, env=env, stdout=log, stderr=log)
    daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")],
                              cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        _wait_until_ready(port, server, time.monotonic() + 120)
        # landing_sensor runs by default: the daemon registers the files and launches the bootstrap itself.
        status, deadline = None, time.monotonic() + 300
        while time.monotonic() < deadline:
            runs = _graphql(port, RUNS, {})["runsOrError"]["results"]
            statuses = {r["status"] for r in runs}
            if runs and statuses <= {"SUCCESS", "FAILURE", "CANCELED"}:
                status = "FAILURE" if statuses - {"SUCCESS"} else "SUCCESS"
                break
            # Queued runs start only through the daemon: if it died, say so rather than wait out the deadline.
            assert daemon.poll() is None, (tmp_path / "webserver.log").read_text()[-4000:]
            time.sleep(2)
        assert status == "SUCCESS", (tmp_path / "webserver.log").read_text()[-4000:]
    finally:
        for process in (daemon, server):
            process.terminate()
        for process in (daemon, server):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()

    with duckdb.connect(str(home.duckdb), read_only=True) as con:
        totals = conservation(con)
        rows, = con.execute("SELECT count(*) FROM logs").fetchone()
        templates, = con.execute("SELECT count(*) FROM templates").fetchone()
        marks, = con.execute("SELECT count(*) FROM ingest_watermarks WHERE bootstrap_t1 IS NOT NULL").fetchone()
    assert rows > 0 and templates > 0 and marks >= 6
    assert totals["lines_read"] == totals["lines_stored"] + totals["lines_quarantined"]
