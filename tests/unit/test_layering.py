"""Only the Dagster layer imports Dagster: assets/, resources/, jobs/ and definitions.py. Everything else is
plain Python that the CLI, the API, the benchmarks and the tests use without it."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "logpilot_dagster"
DAGSTER_LAYER = ("assets", "resources", "jobs")
_IMPORTS_DAGSTER = re.compile(r"^\s*(?:from|import)\s+dagster(?:_\w+)?\b", re.MULTILINE)


def test_only_the_dagster_layer_imports_dagster():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in DAGSTER_LAYER or relative.as_posix() == "definitions.py":
            continue
        if _IMPORTS_DAGSTER.search(path.read_text(encoding="utf-8")):
            offenders.append(relative.as_posix())
    assert offenders == []


def test_the_check_sees_an_import_inside_a_function():
    assert _IMPORTS_DAGSTER.search("def f():\n    from dagster import DagsterInstance\n")
    assert _IMPORTS_DAGSTER.search("import dagster_duckdb\n")
    assert not _IMPORTS_DAGSTER.search('"""runs `dagster-daemon`"""\nimport dagsterish_name_of_other_pkg\n')
