"""`logpilot train` then `logpilot classify` on CSV files, with the packaged embedding model."""

import argparse
import subprocess
import sys

import pandas as pd
import pytest
from support.fixtures import real_embedder  # noqa: F401 (fixture: loads the model once per session)
from support.labelled import labelled_lines

from logpilot_dagster.classify import cli as classify_cli


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="logpilot")
    classify_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_the_logpilot_command_starts_without_dagster_torch_or_scikit_learn():
    """`logpilot classify` or `logpilot mask` on a CSV should not pay for Dagster's import (about 1-2.5 s)."""
    script = ("import sys; from logpilot_dagster.cli import build_parser; build_parser()\n"
              "print(sorted({n.split('.')[0] for n in sys.modules} & {'dagster', 'torch', 'sklearn', 'pandas'}))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.fixture
def trained_store(tmp_path, real_embedder):  # noqa: F811
    labels = tmp_path / "labels.csv"
    labelled_lines(per_template=4, seed=3).to_csv(labels, index=False)
    assert run("train", "--labels", str(labels), "--model-dir", str(tmp_path / "models")) == 0
    return tmp_path / "models"


def test_train_then_classify_a_csv(tmp_path, trained_store):
    assert (trained_store / "PROMOTED").read_text() == "v0001"
    lines = labelled_lines(per_template=2, seed=8)
    lines.drop(columns="target_label").to_csv(tmp_path / "in.csv", index=False)
    lines = pd.concat([lines, pd.DataFrame([("app", "User User9 logged in.", "User Action")],
                                           columns=lines.columns)], ignore_index=True)
    lines.drop(columns="target_label").to_csv(tmp_path / "in.csv", index=False)
    out_csv = tmp_path / "out.csv"
    assert run("classify", "--input", str(tmp_path / "in.csv"), "--output", str(out_csv),
               "--model", str(trained_store), "--home", str(tmp_path / "home")) == 0
    out = pd.read_csv(out_csv)
    assert list(out.columns) == ["source", "log_message", "target_label", "confidence", "tier", "reason"]
    assert (out["target_label"] == lines["target_label"]).mean() >= 0.95
    assert out["tier"].iloc[-1] == "rules"

    assert run("classify", "--input", str(tmp_path / "in.csv"), "--output", str(out_csv),
               "--model", str(trained_store), "--no-rules", "--home", str(tmp_path / "home")) == 0
    assert pd.read_csv(out_csv)["tier"].iloc[-1] in {"model", "unclassified"}  # no rules tier now


def test_a_users_label_set_and_their_rules(tmp_path, real_embedder, capsys):  # noqa: F811
    labels = tmp_path / "mine.csv"
    frame = labelled_lines(per_template=4, labels=["Error", "Resource Usage"])
    frame["target_label"] = frame["target_label"].map({"Error": "bad", "Resource Usage": "capacity"})
    frame.to_csv(labels, index=False)
    rules = tmp_path / "rules.toml"
    rules.write_text("[[rule]]\nlabel='bad'\npattern='^FATAL'\n[[rule]]\nlabel='User Action'\npattern='^User'\n")
    assert run("train", "--labels", str(labels), "--model-dir", str(tmp_path / "m"), "--rules", str(rules)) == 0
    pd.DataFrame({"source": ["a", "a"], "log_message": ["FATAL: boom", "User x logged in"]}).to_csv(
        tmp_path / "in.csv", index=False)
    assert run("classify", "--input", str(tmp_path / "in.csv"), "--output", str(tmp_path / "out.csv"),
               "--model", str(tmp_path / "m"), "--rules", str(rules)) == 0
    out = pd.read_csv(tmp_path / "out.csv")
    assert out["target_label"].iloc[0] == "bad" and out["tier"].iloc[0] == "rules"
    assert out["target_label"].iloc[1] in {"bad", "capacity"}  # the User Action rule is outside the label set
    assert "1 skipped" in capsys.readouterr().out


def test_classify_without_a_model_uses_rules_and_says_so(tmp_path, capsys):
    pd.DataFrame({"source": ["a"], "log_message": ["something"]}).to_csv(tmp_path / "in.csv", index=False)
    assert run("classify", "--input", str(tmp_path / "in.csv"), "--output", str(tmp_path / "o.csv"),
               "--home", str(tmp_path / "home")) == 0
    assert "no trained model" in capsys.readouterr().out
    assert pd.read_csv(tmp_path / "o.csv")["tier"].tolist() == ["unclassified"]
