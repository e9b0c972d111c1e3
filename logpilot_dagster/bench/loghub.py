"""The Loghub accuracy harness: mine each dataset's messages with LogPilot's miner and score the result.

A data folder holds `formats.json` (dataset name -> header format) and one subfolder per dataset with the
raw log (`*.log`) and the ground truth (`*.log_structured_corrected.csv`, or `*.log_structured.csv`).
Each dataset is mined as one source through `LogMiner.mine`, the code path the assets use, with the one
shipped `MinerConfig`; the header format is the only per-dataset input.
"""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from logpilot_dagster.bench.headers import compile_format
from logpilot_dagster.bench.metrics import accuracy, parsing_accuracy
from logpilot_dagster.mining import LogMiner, MinerConfig

FORMATS_FILE = "formats.json"
METRICS = ("GA", "PA", "FGA", "FTA")


@dataclass(frozen=True)
class Dataset:
    name: str
    log_format: str
    log_file: Path
    truth_file: Path


@dataclass(frozen=True)
class DatasetResult:
    name: str
    GA: float
    PA: float
    FGA: float
    FTA: float
    templates_found: int
    templates_truth: int
    lines_per_s: float
    lines: int


def discover(data: Path, names: Sequence[str] | None = None) -> list[Dataset]:
    """The datasets of `data` (all of `formats.json`, or `names`), with their files checked."""
    formats_path = data / FORMATS_FILE
    if not formats_path.is_file():
        raise FileNotFoundError(f"{formats_path}: missing (a Loghub data folder needs {FORMATS_FILE})")
    formats = json.loads(formats_path.read_text(encoding="utf-8"))
    if not isinstance(formats, dict):
        raise ValueError(f"{formats_path}: expected an object mapping dataset name to log format")
    wanted = list(names) if names else sorted(formats)
    unknown = [name for name in wanted if name not in formats]
    if unknown:
        raise ValueError(f"{formats_path}: no log format for {', '.join(unknown)} (known: {', '.join(sorted(formats))})")
    return [Dataset(name, formats[name], *_files(data / name, name)) for name in wanted]


def _files(folder: Path, name: str) -> tuple[Path, Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: dataset folder missing")
    logs = [folder / f"{name}_2k.log"] if (folder / f"{name}_2k.log").is_file() else sorted(folder.glob("*.log"))
    if len(logs) != 1:
        raise FileNotFoundError(f"{folder}: expected one raw log file (*.log), found {len(logs)}")
    for suffix in ("_structured_corrected.csv", "_structured.csv"):
        truth = logs[0].with_name(logs[0].name + suffix)
        if truth.is_file():
            return logs[0], truth
    raise FileNotFoundError(f"{folder}: ground truth {logs[0].name}_structured_corrected.csv missing")


def load_dataset(dataset: Dataset) -> tuple[list[str], list[str], list[str]]:
    """(messages, truth event ids, truth templates), one entry per line of the ground truth."""
    header = compile_format(dataset.log_format)
    with dataset.truth_file.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if rows and not {"LineId", "EventId", "EventTemplate"} <= rows[0].keys():
        raise ValueError(f"{dataset.truth_file}: needs LineId, EventId and EventTemplate columns")
    raw = dataset.log_file.read_text(encoding="utf-8", errors="replace").splitlines()
    # The ground truth numbers the lines that have the header, from 1, in file order (logparser's convention).
    contents = [content for content in map(header.content, raw) if content is not None]
    messages: list[str] = []
    for row in rows:
        line_id = int(row["LineId"])
        if not 1 <= line_id <= len(contents):
            raise ValueError(f"{dataset.log_file}: line {line_id} of the ground truth has no line with the header "
                             f"format {dataset.log_format!r} ({len(contents)} of {len(raw)} lines match it)")
        messages.append(contents[line_id - 1])
    return messages, [row["EventId"] for row in rows], [row["EventTemplate"] for row in rows]


def run_dataset(dataset: Dataset, config: MinerConfig | None = None) -> DatasetResult:
    messages, truth_ids, truth_templates = load_dataset(dataset)
    miner = LogMiner(config)
    started = time.perf_counter()
    matches = miner.mine(dataset.name, messages)
    elapsed = time.perf_counter() - started
    ids = [m.template_id for m in matches]
    # A group's template is the one most of its lines got (rendering keeps each line's own spacing).
    votes: dict[str, Counter[str]] = {}
    for m in matches:
        votes.setdefault(m.template_id, Counter())[m.template] += 1
    group_template = {group: counter.most_common(1)[0][0] for group, counter in votes.items()}
    scores = accuracy(ids, [group_template[i] for i in ids], truth_ids, truth_templates)
    return DatasetResult(
        name=dataset.name, GA=scores.GA, PA=parsing_accuracy([m.template for m in matches], truth_templates), FGA=scores.FGA, FTA=scores.FTA,
        templates_found=scores.groups_found, templates_truth=scores.groups_truth,
        lines_per_s=len(messages) / elapsed if elapsed > 0 else float("inf"), lines=len(messages),
    )


def run(data: Path, names: Sequence[str] | None = None, config: MinerConfig | None = None) -> dict:
    """Per-dataset results and their averages, in the `--json` shape."""
    results = [run_dataset(dataset, config) for dataset in discover(data, names)]
    datasets = []
    for result in results:
        row = asdict(result)
        row.pop("lines")
        datasets.append(row)
    average = {metric: (sum(getattr(r, metric) for r in results) / len(results) if results else 0.0)
               for metric in METRICS}
    return {"datasets": datasets, "average": average}


def format_table(report: dict) -> str:
    """The report as a Markdown table, averages last."""
    lines = ["| dataset | GA | PA | FGA | FTA | templates found / truth | lines/s |",
             "|---|---|---|---|---|---|---|"]
    for row in report["datasets"]:
        lines.append(f"| {row['name']} | {row['GA']:.3f} | {row['PA']:.3f} | {row['FGA']:.3f} | {row['FTA']:.3f} "
                     f"| {row['templates_found']} / {row['templates_truth']} | {row['lines_per_s']:,.0f} |")
    avg = report["average"]
    lines.append(f"| **average** | **{avg['GA']:.3f}** | **{avg['PA']:.3f}** | **{avg['FGA']:.3f}** "
                 f"| **{avg['FTA']:.3f}** | | |")
    return "\n".join(lines)
