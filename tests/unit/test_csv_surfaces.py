"""`logpilot classify`, the CSV upload and the JSON API give the same answers and the same refusals."""

import csv
import io

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from logpilot_dagster.api.app import ApiSettings, create_app
from logpilot_dagster.classify.classifier import ClassifierConfig, HybridClassifier
from logpilot_dagster.cli import main as logpilot_main
from logpilot_dagster.llm.client import LLMConfig

# A rule that matches everything, the empty string included: any blank message labelled "Error" with
# confidence 1 means a tier was asked about it.
CATCH_ALL = "[[rule]]\nname = 'anything'\nlabel = 'Error'\npattern = '.*'\n"
LINES = [("app", "disk full"), ("app", ""), ("db", "   "), ("app", "=SUM(A1:A9)")]
EXPECTED = [
    ["Error", 1.0, "rules", "rule anything"],
    ["unclassified", 0.0, "unclassified", "empty message"],
    ["unclassified", 0.0, "unclassified", "empty message"],
    ["Error", 1.0, "rules", "rule anything"],
]


@pytest.fixture
def surfaces(tmp_path, monkeypatch):
    """classify(csv_text) -> (status, rows or message) on each surface, with the same rules."""
    for name in ("LOGPILOT_LLM_BASE_URL", "LOGPILOT_LLM_MODEL", "LOGPILOT_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    rules = tmp_path / "rules.toml"
    rules.write_text(CATCH_ALL)
    config = ClassifierConfig(llm=LLMConfig(base_url=None), use_model=False, rules_file=str(rules))
    client = TestClient(create_app(ApiSettings(classifier=config), HybridClassifier(config)),
                        raise_server_exceptions=False)

    def cli(text: str):
        source, output = tmp_path / "in.csv", tmp_path / "out.csv"
        source.write_text(text, encoding="utf-8")
        output.unlink(missing_ok=True)
        code = logpilot_main(["classify", "--input", str(source), "--output", str(output), "--rules", str(rules),
                              "--home", str(tmp_path / "home")])
        return code, (pd.read_csv(output, dtype=str, keep_default_na=False) if code == 0 else None)

    def csv_api(text: str):
        response = client.post("/classify", files={"file": ("in.csv", text.encode(), "text/csv")})
        if response.status_code != 200:
            return response.status_code, response.json()["detail"]
        return 200, pd.read_csv(io.StringIO(response.text), dtype=str, keep_default_na=False)

    def json_api(items: list[dict]):
        response = client.post("/classify", json={"items": items})
        if response.status_code != 200:
            return response.status_code, response.json()["detail"]
        return 200, pd.DataFrame(response.json()["results"])

    yield cli, csv_api, json_api
    client.close()


def as_csv(rows, header=("source", "log_message")) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    return out.getvalue()


def answers(frame: pd.DataFrame) -> list[list]:
    return [[r.target_label, float(r.confidence), r.tier, r.reason] for r in frame.itertuples()]


def test_blank_messages_get_the_same_answer_on_every_surface(surfaces, capsys):
    cli, csv_api, json_api = surfaces
    code, from_cli = cli(as_csv(LINES))
    assert code == 0
    status, from_csv_api = csv_api(as_csv(LINES))
    assert status == 200
    status, from_json_api = json_api([{"source": s, "log_message": m} for s, m in LINES])
    assert status == 200, from_json_api
    assert answers(from_cli) == answers(from_csv_api) == answers(from_json_api) == EXPECTED
    assert "2 lines with a blank log_message" in capsys.readouterr().err
    # the CSV surfaces write the formula-like message escaped; JSON is not opened by spreadsheets
    assert from_cli["log_message"].iloc[3] == from_csv_api["log_message"].iloc[3] == "'=SUM(A1:A9)"
    assert from_json_api["log_message"].iloc[3] == "=SUM(A1:A9)"


@pytest.mark.parametrize("column", ["target_label", "confidence", "tier", "reason"])
def test_an_output_column_in_the_input_is_refused_on_every_surface(surfaces, capsys, column):
    cli, csv_api, json_api = surfaces
    text = as_csv([("app", "disk full", "mine")], header=("source", "log_message", column))
    assert cli(text)[0] == 2
    assert f"already has column(s) {column}" in capsys.readouterr().err
    status, detail = csv_api(text)
    assert status == 422 and f"already has column(s) {column}" in detail
    status, detail = json_api([{"source": "app", "log_message": "disk full", column: "mine"}])
    assert status == 422 and f"already has {column}" in detail


def test_a_ragged_row_is_refused_with_its_number_on_both_csv_surfaces(surfaces, capsys):
    cli, csv_api, _ = surfaces
    text = "source,log_message\napp,fine\napp,one,too many\napp,fine\n"
    assert cli(text)[0] == 2
    assert "row 2 (line 3) has 3 field(s)" in capsys.readouterr().err
    status, detail = csv_api(text)
    assert status == 400 and "row 2 (line 3) has 3 field(s)" in detail
