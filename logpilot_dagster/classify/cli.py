"""`logpilot classify`, `logpilot train` and `logpilot serve`: classification for people who just have a CSV."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from logpilot_dagster.settings import HOME_ENV, HomeLayout


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser(
        "classify", help="label each line of a CSV (columns source, log_message): rules, model, then LLM",
        description="Adds target_label, confidence, tier (rules|model|llm|unclassified) and reason columns.")
    run.add_argument("--input", required=True, type=Path, help="CSV with columns source, log_message")
    run.add_argument("--output", required=True, type=Path, help="where to write the labelled CSV")
    _model_options(run)
    run.add_argument("--threshold", type=float, help="model confidence below which a line goes to the LLM "
                     "(default: the model's own)")
    run.set_defaults(func=_classify)

    train = subparsers.add_parser(
        "train", help="train the model tier from a labelled CSV (source, log_message, target_label)",
        description="Trains a new version in --model-dir, evaluates it on a held-out split and promotes it "
                    "only if it is at least as good as the promoted one.")
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

    serve = subparsers.add_parser("serve", help="the HTTP API: POST /classify, GET /health, docs at /docs")
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

    classifier = HybridClassifier(_config(args, threshold=args.threshold))
    _print_tiers(classifier.tiers())
    started = time.perf_counter()
    rows = classify_csv(classifier, args.input, args.output)
    elapsed = time.perf_counter() - started
    stats = classifier.router.stats
    print(f"classified {rows:,} lines ({stats.templates:,} templates) in {elapsed:.1f}s -> {args.output}")
    for tier, n in sorted(stats.by_tier.items()):
        print(f"  {tier:<13}{n:>10,} lines")
    if stats.llm_calls:
        print(f"  LLM calls    {stats.llm_calls:>10,} ({stats.llm_requests:,} requests)")
    return 0


def _print_tiers(tiers: dict) -> None:
    model = "on" if tiers["model"]["enabled"] else "off (no trained model: `logpilot train` makes one)"
    llm = "on" if tiers["llm"]["enabled"] else f"off ({tiers['llm']['reason']})"
    skipped = tiers["rules"]["skipped_outside_label_set"]
    print(f"rules: {tiers['rules']['rules']} from {tiers['rules']['origin']}"
          + (f" ({len(skipped)} skipped: label not in the model's label set)" if skipped else ""))
    print(f"model: {model}\nllm:   {llm}")


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
    outcome = train_and_register(frame, args.model_dir, embedder, rules=rules, test_size=args.test_size,
                                 seed=args.seed, split_by=args.split_by,
                                 threshold=args.threshold)
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
