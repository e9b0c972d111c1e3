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
    instance, in a child process whose tree is measured."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "logpilot_dagster.jobs.launch", name,
                              "--home", str(layout.home), *args], env=job_env(layout))
    with TreeMemorySampler(child.pid) as sampler:
        returncode = child.wait()
    return JobRun(returncode, time.perf_counter() - started, sampler.peak_mb)
