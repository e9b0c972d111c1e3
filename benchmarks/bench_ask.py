"""The question engines on the golden questions (ask/golden/*.toml) over a freshly bootstrapped sample.

    .venv/bin/python benchmarks/bench_ask.py --lines 40000 --seed 7     # a throw-away home
    .venv/bin/python benchmarks/bench_ask.py --home .logpilot            # an existing home (after `make run`)

Prints, per engine, the exact-match rate on the golden questions of supported shapes, the share of
unsupported questions declined, wrong answers, and the score per shape and per golden file. The LLM engine
is scored when $LOGPILOT_LLM_BASE_URL names an endpoint, else reported disabled.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", type=Path, help="an existing LogPilot home (else a sample is built)")
    parser.add_argument("--lines", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    from bench_search import build_home

    from logpilot_dagster.ask.evaluation import evaluate_engines, golden_dir, read_golden
    from logpilot_dagster.store.layout import HomeLayout
    from logpilot_dagster.vectors.index import default_embedder, index_runbooks, index_templates, open_index

    with tempfile.TemporaryDirectory() as scratch:
        layout = HomeLayout.from_env(args.home) if args.home else build_home(Path(scratch) / "home", args.lines,
                                                                             args.seed)
        embedder = default_embedder(layout)
        if not args.home:
            index_templates(layout, embedder)
            index_runbooks(layout, embedder)
        index = open_index(layout, embedder)
        figures = {}
        for path in sorted(golden_dir().glob("*.toml")):
            started = time.perf_counter()
            scores = evaluate_engines(layout, index_factory=lambda: index, questions=read_golden_file(path))
            seconds = time.perf_counter() - started
            figures[path.name] = {name: {k: v for k, v in s.to_dict().items() if k != "outcomes"}
                                  for name, s in scores.items()}
            figures[path.name]["seconds"] = round(seconds, 1)
            for s in scores.values():
                for o in s.outcomes:
                    if o.verdict != "match":
                        print(f"  {path.name} {s.engine} {o.id}: {o.verdict} {o.why[:160]}", file=sys.stderr)
        total = evaluate_engines(layout, index_factory=lambda: index, questions=read_golden())
        figures["all"] = {name: {k: v for k, v in s.to_dict().items() if k not in ("outcomes", "per_shape")}
                          for name, s in total.items()}
        figures["all"]["questions"] = len(read_golden())
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def read_golden_file(path: Path):
    from logpilot_dagster.ask.evaluation import read_golden

    return [q for q in read_golden(path.parent) if q.id in _ids(path)]


def _ids(path: Path) -> set[str]:
    import tomllib

    return {q["id"] for q in tomllib.loads(path.read_text(encoding="utf-8")).get("question", [])}


if __name__ == "__main__":
    sys.exit(main())
