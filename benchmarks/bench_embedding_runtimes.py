"""The embedding model in its two runtimes: torch (transformers) and the exported graph in ONNX Runtime.

    .venv/bin/python benchmarks/bench_embedding_runtimes.py --texts 512 --repeat 3 --json benchmarks/out/runtimes.json

1. export: the default model's graph is traced into a throw-away model store, as training does;
2. cold start: a fresh Python process per run imports, loads the runtime and embeds `--cold-texts` texts
   (what a labelling step pays when a few templates are new), the runtimes alternating, `--repeat` runs each;
3. memory: a fresh process per way embeds the `--texts` lines: torch; torch loaded, the graph exported
   into an empty store, then served (what training does the first time); the exported graph. Peak RSS
   (VmHWM) of each;
4. batch bound: a fresh process per bound embeds `--long-texts` lines made 256 tokens long (truncated) with
   the exported graph, in batches bounded at `MeanPoolingEncoder.TOKENS_PER_BATCH` tokens and at 64 texts
   whatever their length (what the encoder did before the bound): seconds and peak RSS of each;
5. bulk: one process holds both and embeds the same `--texts` lines of a generated sample, alternating,
   best of `--repeat`; plus the largest difference between their vectors.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from logpilot_dagster.bench.report import write_json_report
from logpilot_dagster.classify import onnx_graph
from logpilot_dagster.classify.embedder import BatchTokenizer, MeanPoolingEncoder, default_model_path
from logpilot_dagster.samples.generator import generate_sample

RUN = """
import json, sys, time
started = time.perf_counter()
from pathlib import Path
from logpilot_dagster.classify import onnx_graph
from logpilot_dagster.bench.memory import process_memory_mb
from logpilot_dagster.classify.embedder import MeanPoolingEncoder, BatchTokenizer, default_model_path
mode, export_dir, tokens_per_batch = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
texts = json.loads(sys.stdin.read())
MeanPoolingEncoder.TOKENS_PER_BATCH = int(tokens_per_batch or MeanPoolingEncoder.TOKENS_PER_BATCH)
folder = default_model_path()
if mode == "export":  # what training does on a store without a graph: load with torch, export, serve the graph
    encoder = MeanPoolingEncoder.for_folder(folder, export_dir)
else:
    transformer = (onnx_graph.OnnxTransformer(onnx_graph.published_graph(folder, export_dir)) if mode == "onnx"
                   else onnx_graph.TorchTransformer(folder))
    encoder = MeanPoolingEncoder(BatchTokenizer(folder, 256), transformer)
encoder.encode(texts)
print(json.dumps({"seconds": time.perf_counter() - started, "backend": encoder.backend,
                  "peak_mb": round(process_memory_mb("VmHWM"))}))
"""


def run(mode: str, export_dir: Path, texts: list[str], tokens_per_batch: int | None = None) -> dict:
    """One fresh Python process: import, load (or export), embed `texts`; its seconds and peak RSS."""
    done = subprocess.run([sys.executable, "-c", RUN, mode, str(export_dir), str(tokens_per_batch or "")],
                          input=json.dumps(texts), capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def sample_lines(count: int, workdir: Path) -> list[str]:
    """Distinct raw lines of a generated sample (headers included, as a CSV user's lines may be)."""
    generate_sample(workdir / "landing", lines=max(count * 4, 2_000), seed=5)
    lines: dict[str, None] = {}
    for path in sorted((workdir / "landing").rglob("*")):
        if path.is_file():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                if line.strip():
                    lines.setdefault(line[:2_000])
                if len(lines) >= count:
                    return list(lines)
    return list(lines)


def cold_start(export_dir: Path, texts: list[str], repeat: int) -> dict:
    runs: dict[str, list[dict]] = {"torch": [], "onnx": []}
    for _ in range(repeat):
        for mode in runs:
            runs[mode].append(run(mode, export_dir, texts))
    return {mode: {"runs_s": [round(r["seconds"], 2) for r in rs],
                   "median_s": round(statistics.median(r["seconds"] for r in rs), 2),
                   "peak_mb": max(r["peak_mb"] for r in rs)} for mode, rs in runs.items()}


def peak_memory(workdir: Path, export_dir: Path, texts: list[str]) -> dict:
    """Each way of embedding the bulk texts in a process of its own: its peak RSS."""
    return {"torch": run("torch", export_dir, texts)["peak_mb"],
            "export_then_onnx": run("export", workdir / "fresh-store" / onnx_graph.EXPORT_DIR, texts)["peak_mb"],
            "onnx": run("onnx", export_dir, texts)["peak_mb"]}


def batch_bound(export_dir: Path, texts: list[str]) -> dict:
    """Long texts with and without the token bound on a batch (64 texts of 256 tokens = 16,384 tokens)."""
    long_texts = [" ".join([text] * (300 // max(1, len(text.split())) + 1)) for text in texts]
    ways = {"bounded": MeanPoolingEncoder.TOKENS_PER_BATCH, "64_a_batch": 64 * 256}
    return {way: {k: round(v, 2) if k == "seconds" else v for k, v in run("onnx", export_dir, long_texts, bound).items()
                  if k != "backend"} for way, bound in ways.items()}


def bulk(export_dir: Path, texts: list[str], repeat: int) -> dict:
    import numpy as np

    folder = default_model_path()
    tokenizer = BatchTokenizer(folder, 256)
    encoders = {"torch": MeanPoolingEncoder(tokenizer, onnx_graph.TorchTransformer(folder)),
                "onnx": MeanPoolingEncoder(tokenizer, onnx_graph.OnnxTransformer(
                    onnx_graph.published_graph(folder, export_dir)))}
    best = dict.fromkeys(encoders, float("inf"))
    vectors = {}
    for _ in range(repeat):
        for runtime, encoder in encoders.items():
            started = time.perf_counter()
            vectors[runtime] = encoder.encode(texts)
            best[runtime] = min(best[runtime], time.perf_counter() - started)
    return {"texts": len(texts), "best_s": {k: round(v, 2) for k, v in best.items()},
            "onnx_over_torch": round(best["onnx"] / best["torch"], 3),
            "max_abs_difference": float(np.abs(vectors["onnx"] - vectors["torch"]).max())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=512, help="lines embedded in bulk")
    parser.add_argument("--cold-texts", type=int, default=26, help="lines embedded after each cold start")
    parser.add_argument("--long-texts", type=int, default=128, help="lines made 256 tokens long (batch bound)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="logpilot-runtimes-") as tmp:
        workdir = Path(tmp)
        texts = sample_lines(args.texts, workdir)
        export_dir = workdir / "store" / onnx_graph.EXPORT_DIR
        started = time.perf_counter()
        encoder = MeanPoolingEncoder.for_folder(default_model_path(), export_dir)
        export = {"load_and_export_s": round(time.perf_counter() - started, 2),
                  "published": onnx_graph.published_graph(default_model_path(), export_dir) is not None}
        del encoder
        if not export["published"]:
            print("the graph was not exported; see the warning above", file=sys.stderr)
            return 1
        report = {"export": export, "cold_start": cold_start(export_dir, texts[:args.cold_texts], args.repeat),
                  "peak_mb": peak_memory(workdir, export_dir, texts),
                  "batch_bound": batch_bound(export_dir, texts[:args.long_texts]),
                  "bulk": bulk(export_dir, texts, args.repeat)}
    cold = report["cold_start"]
    print(f"export (torch load + trace + check): {export['load_and_export_s']} s")
    print(f"cold start + {args.cold_texts} texts, median of {args.repeat}: torch {cold['torch']['median_s']} s, "
          f"onnx {cold['onnx']['median_s']} s ({cold['torch']['median_s'] / cold['onnx']['median_s']:.1f}x)")
    peak = report["peak_mb"]
    print(f"peak RSS of a process embedding the {len(texts)} texts: torch {peak['torch']} MB, loading with torch "
          f"and exporting first {peak['export_then_onnx']} MB, the exported graph {peak['onnx']} MB")
    bound = report["batch_bound"]
    print(f"{args.long_texts} texts of 256 tokens with the graph: bounded at {MeanPoolingEncoder.TOKENS_PER_BATCH:,} "
          f"tokens a batch {bound['bounded']['seconds']} s, peak {bound['bounded']['peak_mb']} MB; 64 a batch "
          f"{bound['64_a_batch']['seconds']} s, peak {bound['64_a_batch']['peak_mb']} MB")
    b = report["bulk"]
    print(f"bulk {b['texts']} texts, best of {args.repeat}: torch {b['best_s']['torch']} s, "
          f"onnx {b['best_s']['onnx']} s (onnx/torch {b['onnx_over_torch']}); "
          f"largest difference {b['max_abs_difference']:.1e}")
    if args.json:
        write_json_report(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
