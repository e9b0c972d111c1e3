"""`logpilot classify`, `logpilot train` and `logpilot serve`: classification for people who just have a CSV."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from logpilot_dagster.store.layout import HOME_ENV, HomeLayout
from logpilot_dagster.terminal import busy

CLASSIFY_EXAMPLES = """examples:
  logpilot classify --input logs.csv --output labelled.csv
  logpilot classify --input logs.csv --output labelled.csv --model models/classifier --threshold 0.8
  cat logs.csv | logpilot classify --input - --output - > labelled.csv     # a filter: CSV on stdout only
  logpilot classify --input logs.csv --output labelled.csv --no-rules       # model and LLM only

The input needs columns source and log_message (others are kept). A blank log_message is labelled
unclassified with reason "empty message"; an input that already has target_label, confidence, tier or
reason is refused, so nothing of yours is overwritten. Cells starting with = + - @ are written with a
leading ' so spreadsheets do not run them as formulas. Messages go to stderr."""

TRAIN_EXAMPLES = """examples:
  logpilot train --labels labelled.csv --model-dir models/classifier
  logpilot train --labels labels/ --model-dir models/classifier --split-by template --seed 1
  logpilot train --labels labelled.csv --model-dir models/classifier --rules my_rules.toml"""

SERVE_EXAMPLES = """examples:
  logpilot serve                                    # http://127.0.0.1:8000/docs
  logpilot serve --host 0.0.0.0 --port 9000 --max-upload-mb 50 --model models/classifier
  curl -F file=@logs.csv http://127.0.0.1:8000/classify -o labelled.csv
  curl -H 'content-type: application/json' http://127.0.0.1:8000/classify \\
       -d '{"items": [{"source": "app", "log_message": "User bob logged in"}]}'"""

STDIO = "-"  # --input - / --output -: stdin / stdout


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser(
        "classify", help="label each line of a CSV (columns source, log_message): rules, model, then LLM",
        description="Adds target_label, confidence, tier (rules|model|llm|unclassified) and reason columns.",
        epilog=CLASSIFY_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--input", required=True, type=Path,
                     help="CSV with columns source, log_message; - reads stdin")
    run.add_argument("--output", required=True, type=Path,
                     help="where to write the labelled CSV (replaced only when every row is done); - is stdout")
    _model_options(run)
    run.add_argument("--threshold", type=float, help="model confidence below which a line goes to the LLM "
                     "(default: the model's own)")
    run.set_defaults(func=_classify)

    train = subparsers.add_parser(
        "train", help="train the model tier from a labelled CSV (source, log_message, target_label)",
        description="Trains a new version in --model-dir, evaluates it on a held-out split and promotes it\n"
                    "only if it is at least as good as the promoted one.",
        epilog=TRAIN_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("--labels", required=True, type=Path, help="labelled CSV, or a folder of them")
    train.add_argument("--model-dir", required=True, type=Path, help="model store (versions + PROMOTED)")
    train.add_argument("--test-size", type=float, default=0.2, help="share held out for evaluation")
    train.add_argument("--split-by", choices=("line", "template"), default="line")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--threshold", type=float, help="model confidence below which a line goes to the LLM "
                       "(default: calibrated on a validation part of the training lines so that the model's "
                       "answers above it are 99%% right, and stored with the model)")
    train.add_argument("--embedding-model", help="sentence-transformers folder (default: packaged MiniLM)")
    _rules_options(train)
    train.set_defaults(func=_train)

    serve = subparsers.add_parser(
        "serve", help="the HTTP API: POST /classify, GET /health, docs at /docs",
        description="Serves POST /classify (CSV upload -> CSV, JSON -> JSON), GET /health and GET /, with\n"
                    "the API's documentation at /docs and /redoc (no internet needed).",
        epilog=SERVE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--max-upload-mb", type=float, default=20.0)
    _model_options(serve)
    serve.set_defaults(func=_serve)


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="model folder or store (default: the promoted model under "
                        f"${HOME_ENV}/models/classifier; without one, rules and LLM only)")
    parser.add_argument("--embedding-model", help="sentence-transformers folder the model was trained with")
    parser.add_argument("--home", help=f"LogPilot home (default ${HOME_ENV} or ./.logpilot)")
    _rules_options(parser)


def _rules_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--rules", type=Path, help="rules TOML (default: the packaged default_rules.toml)")
    group.add_argument("--no-rules", action="store_true", help="no rules tier")


def _config(args: argparse.Namespace, **extra):
    from logpilot_dagster.classify.classifier import ClassifierConfig, default_model_store

    layout = HomeLayout.from_env(args.home)
    model_dir = args.model
    if model_dir is None and (default_model_store(layout) / "PROMOTED").is_file():
        model_dir = str(default_model_store(layout))
    return ClassifierConfig.from_env(
        model_dir=model_dir, use_model=model_dir is not None,
        rules_file=str(args.rules) if args.rules else None, use_rules=not args.no_rules,
        embedding_model=args.embedding_model, **extra)


def _classify(args: argparse.Namespace) -> int:
    from logpilot_dagster.classify.classifier import HybridClassifier
    from logpilot_dagster.classify.csv_io import classify_csv

    # stdout carries the CSV when --output is -, so every message of this command goes to stderr.
    def say(text: str) -> None:
        print(text, file=sys.stderr)

    classifier = HybridClassifier(_config(args, threshold=args.threshold))
    _print_tiers(classifier.tiers(), say)
    reading_stdin, writing_stdout = str(args.input) == STDIO, str(args.output) == STDIO
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        source = stack.enter_context(_stdio(sys.stdin, "r")) if reading_stdin else args.input
        output = stack.enter_context(_stdio(sys.stdout, "w")) if writing_stdout else args.output
        progress = stack.enter_context(_progress_bar(None if reading_stdin else args.input))
        try:
            summary = classify_csv(classifier, source, output, progress=progress)
        except BrokenPipeError:
            _silence_stdout()
            return 0
    elapsed = time.perf_counter() - started
    stats = classifier.router.stats
    say(f"classified {summary.rows:,} lines ({stats.templates:,} templates) in {elapsed:.1f}s -> "
        f"{'stdout' if writing_stdout else args.output}")
    for tier, n in sorted(stats.by_tier.items()):
        say(f"  {tier:<13}{n:>10,} lines")
    if summary.empty_messages:
        say(f"  {'(empty)':<13}{summary.empty_messages:>10,} lines with a blank log_message, left unclassified")
    if stats.llm_calls:
        say(f"  LLM calls    {stats.llm_calls:>10,} ({stats.llm_requests:,} requests)")
    return 0


@contextlib.contextmanager
def _stdio(stream: TextIO, mode: str) -> Iterator[TextIO]:
    """stdin or stdout as UTF-8 text with newlines untouched (the csv module's need), whatever the locale."""
    if mode == "w":
        stream.flush()
    wrapper = io.TextIOWrapper(stream.buffer, encoding="utf-8-sig" if mode == "r" else "utf-8", newline="")
    try:
        yield wrapper
    finally:
        try:
            wrapper.flush()
        except BrokenPipeError:
            _silence_stdout()
        wrapper.detach()  # leave sys.stdin/sys.stdout open for the interpreter


def _silence_stdout() -> None:
    """The reader went away (`| head`): keep the interpreter's final flush from raising on the closed pipe."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


@contextlib.contextmanager
def _progress_bar(input_path: Path | None) -> Iterator:
    """A progress callback for classify_csv when stderr is a terminal (a bar over the input's bytes, or a
    line count for stdin); None otherwise, so pipes and logs get no control characters."""
    if not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    total = input_path.stat().st_size if input_path is not None and input_path.is_file() else None
    with tqdm(total=total, unit="B" if total else " lines", unit_scale=True, file=sys.stderr,
              desc="classify", leave=False) as bar:
        def update(rows: int, position: int | None) -> None:
            done = position if total and position is not None else rows
            bar.update(done - bar.n)
            if total:
                bar.set_postfix_str(f"{rows:,} lines", refresh=True)
        yield update


def _print_tiers(tiers: dict, say) -> None:
    model = "on" if tiers["model"]["enabled"] else "off (no trained model: `logpilot train` makes one)"
    llm = "on" if tiers["llm"]["enabled"] else f"off ({tiers['llm']['reason']})"
    skipped = tiers["rules"]["skipped_outside_label_set"]
    say(f"rules: {tiers['rules']['rules']} from {tiers['rules']['origin']}"
        + (f" ({len(skipped)} skipped: label not in the model's label set)" if skipped else ""))
    say(f"model: {model}\nllm:   {llm}")


def _train(args: argparse.Namespace) -> int:
    from logpilot_dagster.classify.embedder import store_embedder
    from logpilot_dagster.classify.examples import LabelledDataError, read_labelled_csv
    from logpilot_dagster.classify.rules import RuleSet
    from logpilot_dagster.classify.training import build_training_set, train_and_register

    frame = build_training_set(args.labels) if args.labels.is_dir() else read_labelled_csv(args.labels)
    if frame.empty:
        raise LabelledDataError(f"{args.labels}: no labelled rows")
    rules = RuleSet() if args.no_rules else (RuleSet.load(args.rules) if args.rules else RuleSet.default())
    embedder = store_embedder(args.model_dir, args.embedding_model)
    started = time.perf_counter()
    with busy(f"training on {len(frame):,} labelled lines"):
        outcome = train_and_register(frame, args.model_dir, embedder, rules=rules, test_size=args.test_size,
                                     seed=args.seed, split_by=args.split_by, threshold=args.threshold)
    m = outcome.metrics
    print(f"trained {outcome.version_dir} on {m['split']['train_lines']:,} lines in "
          f"{time.perf_counter() - started:.1f}s; held out {m['split']['test_lines']:,} (split by {args.split_by})")
    if "accuracy" in m:
        print(f"  accuracy {m['accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}  "
              f"coverage {json.dumps({k: round(v, 4) for k, v in m['coverage_per_tier'].items()})}")
    calibration = outcome.calibration or {}
    print(f"  confidence threshold {outcome.threshold:.3f}"
          + (f" (calibrated: {calibration['accuracy']:.4f} right on {calibration['coverage']:.0%} of "
             f"{calibration['validation_lines']:,} validation lines)" if calibration.get("accuracy") else ""))
    print(f"  {'promoted' if outcome.promoted else 'NOT promoted'}: {outcome.reason}")
    print(f"  in use: {outcome.in_use}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from logpilot_dagster.api.app import ApiSettings, create_app

    settings = ApiSettings(classifier=_config(args), max_upload_bytes=int(args.max_upload_mb * 1024 * 1024))
    uvicorn.run(create_app(settings), host=args.host, port=args.port)
    return 0
