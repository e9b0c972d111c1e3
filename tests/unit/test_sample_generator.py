"""The sample generator: deterministic, every source and bad-input class present, and its ground truth agrees
with what staging actually does to the files."""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import re
import zlib
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from logpilot_dagster.classify import labels
from logpilot_dagster.ingest.sources import SourcesRegistry
from logpilot_dagster.ingest.staging import stage_file
from logpilot_dagster.samples import cli as samples_cli
from logpilot_dagster.samples.generator import (
    DEFAULT_LABELS,
    EMPTY_FILE_NAME,
    NO_SOURCE_FILE_NAME,
    TRUTH_COLUMNS,
    generate_sample,
)
from logpilot_dagster.samples.sources import BAD_REASONS
from logpilot_dagster.store.layout import HomeLayout

LINES = 3_000
SOURCES = ("nova", "syslog", "apache", "app_json", "crm_export", "legacy_crm", "billing")
CRM_SYSTEMS = ("ModernCRM", "ModernHR", "BillingSystem", "AnalyticsEngine", "ThirdPartyAPI")


def _generate(root: Path, lines: int = LINES, seed: int = 11, days: int = 420):
    manifest = generate_sample(root / "landing", lines=lines, seed=seed, days=days)
    return root, manifest


def _truth(root: Path) -> list[dict[str, str]]:
    with gzip.open(root / "sample_truth" / "ground_truth.csv.gz", "rt", encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == TRUTH_COLUMNS
        return list(reader)


def _landing_files(landing: Path) -> list[str]:
    return sorted(p.relative_to(landing).as_posix() for p in landing.rglob("*") if p.is_file())


def _physical_lines(path: Path) -> int:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = zlib.decompressobj(wbits=31).decompress(data)
    return data.count(b"\n")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory):
    return _generate(tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory):
    """A shorter history (fewer, fuller files) staged file by file with the real staging code."""
    root, manifest = _generate(tmp_path_factory.mktemp("staged"), days=45)
    registry = SourcesRegistry.load()
    layout = HomeLayout(root)
    stats = {key: stage_file(layout, key, registry) for key in _landing_files(root / "landing")}
    return root, manifest, stats


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        generate_sample(tmp_path / name / "landing", lines=1_500, seed=seed, days=40)
    first, second, other = (_tree_bytes(tmp_path / name) for name in "abc")
    assert first == second
    assert first.keys() == other.keys() or first != other
    assert any(first[k] != other.get(k) for k in first if k.startswith("landing/"))


def test_refuses_a_folder_that_is_not_empty(sample) -> None:
    root, _ = sample
    with pytest.raises(FileExistsError):
        generate_sample(root / "landing", lines=1_000)


def test_every_source_has_files_that_the_registry_routes_to_it(sample) -> None:
    root, manifest = sample
    registry = SourcesRegistry.load()
    routed = Counter()
    for key in _landing_files(root / "landing"):
        spec = registry.source_for(key)
        routed[spec.name if spec else None] += 1
    assert routed[None] == 1  # misc/notes.txt
    assert registry.source_for(NO_SOURCE_FILE_NAME) is None
    for source in SOURCES:
        assert routed[source] == manifest.files_by_source[source] > 0
        assert manifest.records_by_source[source] > 0
    assert sum(routed.values()) == manifest.files
    assert abs(manifest.lines - LINES) < 0.05 * LINES


def test_a_third_of_the_files_are_gzip_and_all_but_one_decompress(sample) -> None:
    root, manifest = sample
    gz = [p for p in (root / "landing").rglob("*.gz")]
    assert len(gz) == manifest.gzip_files
    assert 0.2 < len(gz) / manifest.files < 0.45
    broken = []
    for path in gz:
        assert path.read_bytes()[:2] == b"\x1f\x8b"
        try:
            gzip.decompress(path.read_bytes())
        except EOFError:
            broken.append(path.relative_to(root / "landing").as_posix())
    assert len(broken) == 1 and broken[0].startswith("syslog/syslog-")
    truncated = [r for r in _truth(root) if r["bad_reason"] == "truncated_gzip"]
    assert [r["file"] for r in truncated] == broken


_TS = re.compile(rb'^(?:\{"ts":")?(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})')


def test_timestamps_span_the_history_and_rise_within_each_file(sample) -> None:
    root, _ = sample
    lowest, highest = "9999", "0000"
    for key in _landing_files(root / "landing"):
        if not key.startswith(("nova/", "app_json/", "billing/", "legacy_crm/", "crm_export/")):
            continue
        path = root / "landing" / key
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        stamps = [b" ".join(m.groups()).decode() for m in map(_TS.match, data.split(b"\n")) if m]
        assert stamps == sorted(stamps), key
        if stamps:
            lowest, highest = min(lowest, stamps[0]), max(highest, stamps[-1])
    span = datetime.fromisoformat(highest) - datetime.fromisoformat(lowest)
    assert span.days >= 400
    assert highest < "2026-11-01"


def test_personal_data_is_in_about_five_percent_of_the_records(sample) -> None:
    root, manifest = sample
    records = [r for r in _truth(root) if not r["bad_reason"]]
    share = sum(1 for r in records if r["pii"]) / len(records)
    assert 0.03 <= share <= 0.08
    kinds = Counter(kind for r in records if r["pii"] for kind in r["pii"].split(","))
    assert set(kinds) == {"email", "ip", "cc", "ssn"}
    assert manifest.pii_lines >= sum(1 for r in records if r["pii"])


def test_every_bad_input_class_is_present(sample) -> None:
    root, manifest = sample
    truth = _truth(root)
    reasons = Counter(r["bad_reason"] for r in truth if r["bad_reason"])
    assert set(reasons) == set(BAD_REASONS)
    assert reasons == Counter(manifest.bad_lines_by_reason)
    assert (root / "landing" / EMPTY_FILE_NAME).stat().st_size == 0
    too_long = [r for r in truth if r["bad_reason"] == "line_too_long"]
    assert len(too_long) == 1
    with (root / "landing" / too_long[0]["file"]).open("rb") as f:
        longest = max(len(line) for line in f)
    assert longest > (1 << 20) + 1
    bad_lines = sum(int(r["n_lines"]) for r in truth if r["bad_reason"])
    assert bad_lines / manifest.lines < 0.03


def test_ground_truth_rows_tile_every_file(sample) -> None:
    root, manifest = sample
    by_file: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in _truth(root):
        by_file[row["file"]].append(row)
    assert set(by_file) == set(_landing_files(root / "landing"))
    for key, rows in by_file.items():
        header = 1 if key.endswith(".csv") else 0
        expected = header + 1
        for row in rows:
            if row["bad_reason"] not in ("empty_file", "truncated_gzip"):
                assert int(row["line"]) == expected, (key, row)
                expected += int(row["n_lines"])
        assert _physical_lines(root / "landing" / key) == expected - 1, key
    assert sum(int(r["n_lines"]) for rows in by_file.values() for r in rows) == (
        manifest.lines - manifest.csv_header_lines)


def test_labels_come_from_the_template(sample) -> None:
    root, manifest = sample
    assert list(labels.DEFAULT_LABELS) == DEFAULT_LABELS
    records = [r for r in _truth(root) if not r["bad_reason"]]
    assert {r["label"] for r in records} == set(DEFAULT_LABELS)
    assert all(manifest.records_by_label[label] > 0 for label in DEFAULT_LABELS)
    label_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in records:
        label_of[r["template_id"], r["template"]].add(r["label"])
        assert "<*>" in r["template"] or "{" not in r["template"]
    assert all(len(found) == 1 for found in label_of.values())
    assert len({tid for tid, _ in label_of}) == len(label_of)  # one wording per template id
    assert {r["source"] for r in records if r["file"].startswith("crm_export/")} == set(CRM_SYSTEMS)


def test_the_system_catalog_names_every_system(sample) -> None:
    root, _ = sample
    with (root / "system_catalog.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["system_name", "department", "owner_email", "criticality"]
    assert {r["system_name"] for r in rows} >= set(SOURCES) | set(CRM_SYSTEMS)
    manifest = json.loads((root / "sample_truth" / "manifest.json").read_text())
    assert manifest["records"] == sum(manifest["records_by_source"].values())


def test_staging_keeps_every_record_and_quarantines_exactly_the_bad_lines(staged) -> None:
    root, manifest, stats = staged
    by_file: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in _truth(root):
        by_file[row["file"]].append(row)
    assert set(by_file) == set(stats)
    for key, stat in stats.items():
        assert stat.conserved, key
        assert stat.lines_read - stat.header_lines == stat.record_lines + stat.quarantined_lines
        rows = by_file[key]
        want_records = {(int(r["line"]), int(r["n_lines"])) for r in rows if not r["bad_reason"]}
        want_bad = Counter((int(r["line"]), r["bad_reason"]) for r in rows if r["bad_reason"])
        staged_rows = pq.read_table(root / "staging" / f"{key}.parquet", columns=["line_no", "n_lines"])
        quarantined = pq.read_table(root / "quarantine" / f"{key}.parquet", columns=["line_no", "reason"])
        got_records = {(r["line_no"], r["n_lines"]) for r in staged_rows.to_pylist()}
        got_bad = Counter((r["line_no"], r["reason"]) for r in quarantined.to_pylist())
        assert got_records == want_records, key
        assert got_bad == want_bad, key
        assert stat.record_lines == sum(n for _, n in want_records)
    assert sum(s.records for s in stats.values()) == manifest.records
    assert sum(s.lines_read for s in stats.values()) == manifest.lines


_TOKEN = re.compile(r"<(EMAIL|IP|CC|SSN)_REDACTED>")


def test_staged_messages_are_masked_exactly_where_the_truth_has_personal_data(staged) -> None:
    root, _, stats = staged
    pii = {(r["file"], int(r["line"])): r["pii"] for r in _truth(root) if not r["bad_reason"]}
    for key in stats:
        table = pq.read_table(root / "staging" / f"{key}.parquet", columns=["line_no", "message"])
        for row in table.to_pylist():
            found = sorted({token.lower() for token in _TOKEN.findall(row["message"])})
            assert ",".join(found) == pii[key, row["line_no"]], (key, row)


def test_cli_generates_and_summarizes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="logpilot")
    samples_cli.register(parser.add_subparsers(dest="command", required=True))
    out = tmp_path / "landing"
    args = parser.parse_args(["generate-sample", "--out", str(out), "--lines", "800", "--seed", "3",
                              "--days", "20"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "records" in printed and "bad input" in printed
    assert (tmp_path / "sample_truth" / "ground_truth.csv.gz").is_file()
    assert (tmp_path / "system_catalog.csv").is_file()
    with pytest.raises(FileExistsError):  # `logpilot` turns this into a message and exit code 2
        args.func(args)
