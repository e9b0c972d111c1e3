"""`logpilot train` then `logpilot classify` on CSV files, with the packaged embedding model."""

import argparse
import csv
import io
import os
import subprocess
import sys

import pandas as pd
import pytest
from support.fixtures import real_embedder  # noqa: F401 (fixture: loads the model once per session)
from support.labelled import labelled_lines

from logpilot_dagster.classify import cli as classify_cli
from logpilot_dagster.cli import main as logpilot_main


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
    assert "1 skipped" in capsys.readouterr().err


def test_classify_without_a_model_uses_rules_and_says_so(tmp_path, capsys):
    pd.DataFrame({"source": ["a"], "log_message": ["something"]}).to_csv(tmp_path / "in.csv", index=False)
    assert run("classify", "--input", str(tmp_path / "in.csv"), "--output", str(tmp_path / "o.csv"),
               "--home", str(tmp_path / "home")) == 0
    assert "no trained model" in capsys.readouterr().err
    assert pd.read_csv(tmp_path / "o.csv")["tier"].tolist() == ["unclassified"]


def logpilot(*argv: str, stdin: bytes = b"", home=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGPILOT_LLM")}
    if home is not None:
        env["LOGPILOT_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "logpilot_dagster.cli", *argv], input=stdin,
                          capture_output=True, env=env, timeout=120)


def test_classify_is_a_clean_csv_filter_on_stdin_and_stdout(tmp_path):
    text = "source,log_message\napp,User bob logged in\napp,=cmd|' /C calc'!A0\napp,caf\u00e9 is open\n"
    done = logpilot("classify", "--input", "-", "--output", "-", stdin=text.encode(), home=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    rows = list(csv.reader(io.StringIO(done.stdout.decode("utf-8"), newline="")))
    assert rows[0] == ["source", "log_message", "target_label", "confidence", "tier", "reason"]
    assert [r[1] for r in rows[1:]] == ["User bob logged in", "'=cmd|' /C calc'!A0", "caf\u00e9 is open"]
    assert rows[1][2:5] == ["User Action", "1.0", "rules"]
    errors = done.stderr.decode()
    assert "classified 3 lines" in errors and "-> stdout" in errors and "rules:" in errors
    assert "\r" not in errors  # no progress bar when stderr is not a terminal


def test_classify_into_a_closed_pipe_stops_quietly(tmp_path):
    rows = "".join(f"app,User u{i} logged in\n" for i in range(20_000))
    process = subprocess.Popen([sys.executable, "-m", "logpilot_dagster.cli", "classify", "--input", "-",
                                "--output", "-", "--home", str(tmp_path)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdin.write(("source,log_message\n" + rows).encode())
    process.stdin.close()
    assert process.stdout.readline().startswith(b"source,log_message")
    process.stdout.close()  # like `| head -1`
    errors = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0, errors
    assert "Traceback" not in errors and "Exception ignored" not in errors


@pytest.mark.parametrize("content, says", [
    ("source,log_message\napp,one\napp,two,three\n", "row 2 (line 3) has 3 field(s) but the header has 2"),
    ("source,log_message\napp\n", "row 1 (line 2) has 1 field(s)"),
    ("source,log_message,target_label\napp,x,Error\n", "already has column(s) target_label"),
])
def test_a_refused_input_exits_2_with_the_reason_and_writes_nothing(tmp_path, capsys, content, says):
    (tmp_path / "in.csv").write_text(content)
    out = tmp_path / "out" / "OUT.csv"
    assert logpilot_main(["classify", "--input", str(tmp_path / "in.csv"), "--output", str(out),
                          "--home", str(tmp_path / "home")]) == 2
    captured = capsys.readouterr()
    assert says in captured.err and captured.out == ""
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


@pytest.mark.parametrize("command, example", [
    ("classify", "cat logs.csv | logpilot classify --input - --output - > labelled.csv"),
    ("train", "logpilot train --labels labelled.csv --model-dir models/classifier"),
    ("serve", "curl -F file=@logs.csv http://127.0.0.1:8000/classify -o labelled.csv"),
])
def test_help_shows_examples_as_written(capsys, command, example):
    with pytest.raises(SystemExit):
        logpilot_main([command, "--help"])
    text = capsys.readouterr().out
    assert "\nexamples:\n" in text and f"\n  {example}" in text


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_progress_bar_only_on_a_terminal(tmp_path, monkeypatch, capsys):
    (tmp_path / "in.csv").write_text("source,log_message\n" + "app,User u1 logged in\n" * 50)
    argv = ["classify", "--input", str(tmp_path / "in.csv"), "--output", str(tmp_path / "o.csv"),
            "--home", str(tmp_path / "home")]
    assert run(*argv) == 0
    assert "\r" not in capsys.readouterr().err
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert run(*argv) == 0
    assert "classify:" in terminal.getvalue() and "\r" in terminal.getvalue()
    assert "classified 50 lines" in terminal.getvalue()
