"""`logpilot bench sources`: schema discovery for log formats, measured on the sample's own formats.

Each source's registry entry is removed in turn; its files are then unmatched, and discovery proposes an entry
from their lines. The proposal is counted correct when staging the files with it gives the same records
(line, timestamp, level, message) as staging them with the real entry, for at least 99% of the real entry's
records; "lines parsed" is the share of the files' lines that end up in records with the proposal.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from logpilot_dagster.ingest.sources import SourcesRegistry
from logpilot_dagster.store.layout import HomeLayout

SAME_RECORDS = 0.99


def _stage(layout: HomeLayout, keys: list[str], registry: SourcesRegistry) -> tuple[set, int, int]:
    import pyarrow.parquet as pq

    from logpilot_dagster.ingest.staging import StageLimits, stage_file

    records, lines, parsed = set(), 0, 0
    for key in keys:
        stats = stage_file(layout, key, registry, StageLimits())
        lines += stats.lines_read - stats.header_lines
        parsed += stats.record_lines
        table = pq.read_table(layout.staged_file(key), columns=["line_no", "ts", "level", "message"])
        records |= set(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))
    return records, lines, parsed


def measure(landing: Path, registry: SourcesRegistry | None = None) -> dict:
    from logpilot_dagster.ingest.discovery import propose

    registry = registry or SourcesRegistry.default()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        layout = HomeLayout(Path(tmp)).ensure()
        shutil.copytree(landing, layout.landing, dirs_exist_ok=True)
        keys = layout.landing_keys()
        for spec in registry.sources:
            files = [k for k in keys if spec.matches(k)]
            if not files:
                continue
            reduced = SourcesRegistry([s for s in registry.sources if s.name != spec.name])
            proposals, rejected = propose(layout.landing, files, reduced)
            truth, lines, truth_parsed = _stage(layout, files, SourcesRegistry([spec]))
            row = {"source": spec.name, "files": len(files), "lines": lines,
                   "lines_parsed_by_true_entry": truth_parsed}
            if not proposals:
                row |= {"proposed": None, "correct": False, "lines_parsed": 0,
                        "reason": rejected[0].reason if rejected else "no proposal"}
            else:
                proposal = proposals[0]
                found, _, parsed = _stage(layout, files, proposal.registry())
                same = len(truth & found) / max(1, len(truth))
                row |= {"proposed": proposal.format, "options": proposal.options, "same_records": round(same, 4),
                        "correct": same >= SAME_RECORDS, "lines_parsed": parsed}
            results.append(row)
    lines = sum(r["lines"] for r in results)
    return {"sources": results, "correct": sum(r["correct"] for r in results), "of": len(results),
            "lines": lines, "lines_parsed": sum(r["lines_parsed"] for r in results),
            "lines_parsed_by_true_entries": sum(r["lines_parsed_by_true_entry"] for r in results)}


def measure_loghub(data: Path) -> dict:
    """Inference on logs of formats LogPilot has no entry for: each Loghub dataset folder (`X/X_2k.log` and its
    `X_2k.log_structured*.csv`) as a landing file nothing matches. Per dataset: whether a proposal validates,
    the lines staging then parses, and the records whose message is the structured CSV's `Content`."""
    import csv

    import pyarrow.parquet as pq

    from logpilot_dagster.ingest.discovery import propose
    from logpilot_dagster.pii import mask

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        layout = HomeLayout(Path(tmp)).ensure()
        for folder in sorted(p for p in data.iterdir() if p.is_dir()):
            raw = next(folder.glob("*_2k.log"), None)
            truth_csv = next(folder.glob("*_structured*.csv"), None)
            if raw is None or truth_csv is None:
                continue
            key = f"{folder.name.lower()}/{raw.name}"
            (layout.landing / key).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(raw, layout.landing / key)
            with truth_csv.open(encoding="utf-8", errors="replace", newline="") as handle:
                # Staged messages are masked: compare with the masked content.
                content = {int(row["LineId"]): mask(row["Content"]).strip() for row in csv.DictReader(handle)}
            proposals, rejected = propose(layout.landing, [key], SourcesRegistry.default())
            row = {"dataset": folder.name, "lines": len(content), "proposed": None, "lines_parsed": 0,
                   "same_message": 0}
            if proposals:
                _, lines, parsed = _stage(layout, [key], proposals[0].registry())
                staged = pq.read_table(layout.staged_file(key), columns=["line_no", "message"]).to_pylist()
                row |= {"proposed": proposals[0].format, "options": proposals[0].options, "lines_parsed": parsed,
                        "same_message": sum(content.get(r["line_no"]) == r["message"].strip() for r in staged)}
            else:
                row["reason"] = rejected[0].reason if rejected else "no proposal"
            results.append(row)
    return {"datasets": results, "proposed": sum(r["proposed"] is not None for r in results), "of": len(results),
            "lines": sum(r["lines"] for r in results), "lines_parsed": sum(r["lines_parsed"] for r in results),
            "same_message": sum(r["same_message"] for r in results)}


def format_loghub_table(report: dict) -> str:
    out = [f"{'dataset':<11} {'proposed':<13} {'lines parsed':>13} {'message as the CSV':>19}"]
    for r in report["datasets"]:
        out.append(f"{r['dataset']:<11} {r['proposed'] or '-':<13} {r['lines_parsed']:>6,} of {r['lines']:>5,} "
                   f"{r['same_message'] / max(1, r['lines']):>19.1%}")
    out.append(f"proposed: {report['proposed']} of {report['of']}; lines parsed {report['lines_parsed']:,} of "
               f"{report['lines']:,}; messages as the structured CSV {report['same_message']:,}")
    return "\n".join(out)


def format_table(report: dict) -> str:
    out = [f"{'source':<12} {'proposed':<13} {'correct':<8} {'same':>7} {'lines parsed':>20} {'by real entry':>14}"]
    for r in report["sources"]:
        out.append(f"{r['source']:<12} {r['proposed'] or '-':<13} {'yes' if r['correct'] else 'no':<8} "
                   f"{r.get('same_records', 0):>7.2%} {r['lines_parsed']:>10,} of {r['lines']:>7,} "
                   f"{r['lines_parsed_by_true_entry']:>14,}")
    out.append(f"inferred correctly: {report['correct']} of {report['of']}; lines parsed {report['lines_parsed']:,} "
               f"of {report['lines']:,} ({report['lines_parsed'] / max(1, report['lines']):.2%}; the real entries "
               f"parse {report['lines_parsed_by_true_entries']:,})")
    return "\n".join(out)


def register(subparsers) -> None:
    sources = subparsers.add_parser("sources", help="format inference: each registry entry removed in turn")
    sources.add_argument("--landing", type=Path, help="a landing folder (default: a generated sample)")
    sources.add_argument("--sample-lines", type=int, default=200_000, help="lines of the generated sample")
    sources.add_argument("--loghub", type=Path, metavar="DIR",
                         help="instead: the Loghub-2k datasets in DIR, formats no registry entry names")
    sources.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    sources.set_defaults(func=_run)


def _run(args) -> int:
    import json
    import sys

    from logpilot_dagster.bench.report import write_json_report

    if args.loghub is not None:
        if not args.loghub.is_dir():
            print(f"error: --loghub {args.loghub} is not a folder", file=sys.stderr)
            return 2
        report = measure_loghub(args.loghub)
        print(format_loghub_table(report))
        if args.json:
            print(f"wrote {write_json_report(args.json, report)}", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        landing = args.landing
        if landing is None:
            from logpilot_dagster.samples.generator import generate_sample

            landing = Path(tmp) / "landing"
            generate_sample(landing, lines=args.sample_lines, seed=7)
        report = measure(landing)
    print(format_table(report))
    if args.json:
        print(f"wrote {write_json_report(args.json, report)}", file=sys.stderr)
    else:
        print(json.dumps({k: v for k, v in report.items() if k != "sources"}), file=sys.stderr)
    return 0
