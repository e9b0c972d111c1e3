"""Start `jobs.launch` in a child process and measure its tree: what `logpilot bootstrap` and the benchmarks
call. Plain Python (no Dagster import here), so the CLI starts fast."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from logpilot_dagster.bench.memory import TreeMemorySampler
from logpilot_dagster.store.layout import HOME_ENV, HomeLayout

NOTHING_NEW = 3  # the launcher's exit status when every landing file is already loaded


@dataclass(frozen=True)
class JobRun:
    returncode: int
    seconds: float
    peak_rss_mb: float  # the whole process tree: dagster, its step process and the pool workers


def dagster_home(env: dict[str, str] | None = None) -> Path:
    """The persistent Dagster instance: $DAGSTER_HOME, else ./.dagster_home, with LogPilot's dagster.yaml
    (shipped in the package) copied in when it has none."""
    env = os.environ if env is None else env
    home = Path(env.get("DAGSTER_HOME") or ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text(files("logpilot_dagster").joinpath("dagster.yaml").read_text())
    return home


def job_env(layout: HomeLayout) -> dict[str, str]:
    """The environment of a launched run: this one, with the LogPilot and Dagster homes made explicit."""
    env = dict(os.environ)
    env[HOME_ENV] = str(layout.home)
    env["DAGSTER_HOME"] = str(dagster_home(env))
    return env


def run_job(layout: HomeLayout, name: str, *args: str) -> JobRun:
    """`bootstrap` (the landing files not yet loaded) or a job of the Definitions, on the persistent
    instance, in a child process whose tree is measured.

    On a terminal, Dagster's event stream goes to a log file under $DAGSTER_HOME/logs and a spinner with the
    elapsed time stands in for it (the tail is shown if the run fails); elsewhere (CI, a pipe) the stream
    passes through to stderr as it is."""
    env = job_env(layout)
    command = [sys.executable, "-m", "logpilot_dagster.jobs.launch", name, "--home", str(layout.home), *args]
    started = time.perf_counter()
    if not sys.stderr.isatty():
        child = subprocess.Popen(command, env=env)
        with TreeMemorySampler(child.pid) as sampler:
            returncode = child.wait()
        return JobRun(returncode, time.perf_counter() - started, sampler.peak_mb)
    from rich.console import Console

    log = Path(env["DAGSTER_HOME"]) / "logs" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    console = Console(stderr=True)
    with log.open("w", encoding="utf-8") as sink, console.status(f"{name} running (log: {log})"):
        child = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
        with TreeMemorySampler(child.pid) as sampler:
            returncode = child.wait()
    seconds = time.perf_counter() - started
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    for line in (lines[-30:] if returncode not in (0, NOTHING_NEW) else
                 [x for x in lines if x.startswith(("run ", "nothing new", "running ", "skipping"))]):
        console.print(line, markup=False, highlight=False)
    return JobRun(returncode, seconds, sampler.peak_mb)
