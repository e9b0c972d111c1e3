"""Shared fixtures: a small generated landing zone in a throw-away LogPilot home."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from logpilot_dagster.store.layout import HomeLayout

SAMPLE_LINES = 4_000
SAMPLE_SEED = 11

# Keep the whole suite off the network and away from a developer's own Dagster instance.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


@pytest.fixture(scope="session")
def sample_landing(tmp_path_factory) -> Path:
    """A generated landing zone (with truth and catalog beside it), built once per test session."""
    from logpilot_dagster.samples.generator import generate_sample

    root = tmp_path_factory.mktemp("sample")
    generate_sample(root / "landing", lines=SAMPLE_LINES, seed=SAMPLE_SEED)
    return root


@pytest.fixture
def home(tmp_path, sample_landing) -> HomeLayout:
    """A fresh LogPilot home whose landing folder holds a copy of the session's sample."""
    layout = HomeLayout.from_env(tmp_path / "home").ensure()
    shutil.copytree(sample_landing / "landing", layout.landing, dirs_exist_ok=True)
    shutil.copy(sample_landing / "system_catalog.csv", layout.system_catalog_csv)
    shutil.copytree(sample_landing / "sample_truth", layout.sample_truth, dirs_exist_ok=True)
    return layout


@pytest.fixture(scope="session")
def bootstrapped(tmp_path_factory, sample_landing) -> HomeLayout:
    """A home after the bootstrap of the session's sample (built once; tests work on copies: `live_home`)."""
    from logpilot_dagster.bootstrap.steps import run_bootstrap

    layout = HomeLayout.from_env(tmp_path_factory.mktemp("boot") / "home").ensure()
    shutil.copytree(sample_landing / "landing", layout.landing, dirs_exist_ok=True)
    run_bootstrap(layout, workers=1)
    return layout


@pytest.fixture
def live_home(bootstrapped, tmp_path) -> HomeLayout:
    """A copy of the bootstrapped home, for a test that ingests into it."""
    shutil.copytree(bootstrapped.home, tmp_path / "home")
    return HomeLayout.from_env(tmp_path / "home")
