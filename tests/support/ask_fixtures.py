"""A bootstrapped sample warehouse for the question, search and guard tests, built once per session.

The bootstrap runs without Dagster (`run_bootstrap`), the system catalog is loaded, and each template gets the
label most of its lines have in the generator's ground truth (tier `human`: no model to train), so
`logs_labelled` has every label to filter on. Tests that must not change the warehouse check its bytes;
tests that write get their own copy (`ask_home_copy`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from logpilot_dagster.bench.truth_labels import label_from_truth
from logpilot_dagster.store.layout import HomeLayout
from support.fixtures import real_embedder  # noqa: F401 (fixture)


def build_ask_home(root: Path, sample_landing: Path) -> HomeLayout:
    from logpilot_dagster.bootstrap.steps import run_bootstrap
    from logpilot_dagster.ingest.catalog import read_system_catalog
    from logpilot_dagster.samples.runbooks import write_runbooks
    from logpilot_dagster.store import tables

    layout = HomeLayout.from_env(root).ensure()
    shutil.copytree(sample_landing / "landing", layout.landing, dirs_exist_ok=True)
    shutil.copy(sample_landing / "system_catalog.csv", layout.system_catalog_csv)
    shutil.copytree(sample_landing / "sample_truth", layout.sample_truth, dirs_exist_ok=True)
    run_bootstrap(layout, workers=1)
    write_runbooks(layout.runbooks)
    with tables.connect(layout.duckdb) as con:
        tables.replace_system_catalog(con, read_system_catalog(layout.system_catalog_csv))
        label_from_truth(con, layout)
    return layout


@pytest.fixture(scope="session")
def ask_home(tmp_path_factory, sample_landing) -> HomeLayout:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return build_ask_home(tmp_path_factory.mktemp("ask") / "home", sample_landing)


@pytest.fixture
def ask_home_copy(tmp_path, ask_home) -> HomeLayout:
    shutil.copytree(ask_home.home, tmp_path / "home", symlinks=True)
    return HomeLayout.from_env(tmp_path / "home")


def tree_fingerprint(*roots: Path) -> dict[str, str]:
    """Every file under the roots with the hash of its bytes: what a refused statement must leave alone."""
    found = {}
    for root in roots:
        for path in sorted(Path(root).rglob("*")):
            if path.is_file():
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.fixture(scope="session")
def indexed_home(ask_home, real_embedder) -> HomeLayout:  # noqa: F811 (the fixture imported above)
    """`ask_home` with its templates and runbooks in the vector index."""
    from logpilot_dagster.vectors.index import index_runbooks, index_templates

    index_templates(ask_home, real_embedder)
    index_runbooks(ask_home, real_embedder)
    return ask_home
