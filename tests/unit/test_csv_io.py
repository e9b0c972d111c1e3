"""The CSV reading and writing shared by `logpilot classify` and the API: refusals, escaping, atomic output."""

import csv
import io
import os

import pandas as pd
import pytest

from logpilot_dagster.classify.csv_io import (
    EMPTY_MESSAGE,
    OUTPUT_COLUMNS,
    CsvColumnsError,
    CsvInputError,
    classify_csv,
    classify_frame,
    csv_cells,
    read_input_chunks,
)
from logpilot_dagster.classify.router import Classification


class FakeClassifier:
    """Answers like a sure model for every line it is asked about; fails on call `fail_on_call` if set."""

    def __init__(self, fail_on_call: int | None = None, error: BaseException | None = None):
        self.asked: list[tuple[str, str]] = []
        self.calls = 0
        self.fail_on_call = fail_on_call
        self.error = error or RuntimeError("classifier broke")

    def classify(self, items):
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise self.error
        self.asked.extend(items)
        return [Classification("Error", 0.98, "model", "fake p=0.98") for _ in items]


def rows_of(path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


@pytest.mark.parametrize("cell, written", [
    ("=1+1", "\"'=1+1\""),
    ('=HYPERLINK("http://x","y")', '"\'=HYPERLINK(""http://x"",""y"")"'),
    ("+5", "\"'+5\""),
    ("@SUM(A1)", "\"'@SUM(A1)\""),
    ("\tcmd", "\"'\tcmd\""),
    ("\rcmd", "\"'\rcmd\""),
    ("-1+2", "\"'-1+2\""),
    ("-cmd|' /C calc'!A0", "\"'-cmd|' /C calc'!A0\""),
    ("-", "\"'-\""),
    ("--verbose", "\"'--verbose\""),
    # plain negative numbers cannot carry a formula and stay numbers
    ("-3", "-3"),
    ("-0.25", "-0.25"),
    ("-.5", "-.5"),
    ("-1e5", "-1e5"),
    ("a=b", "a=b"),
    ("plain text", "plain text"),
    ("a,b", '"a,b"'),
    ('say "hi"', '"say ""hi"""'),
    ("two\nlines", '"two\nlines"'),
    ("", ""),
])
def test_formula_cells_are_escaped_and_quoted(cell, written):
    assert csv_cells(pd.Series([cell])) == [written]


def test_the_output_has_no_cell_a_spreadsheet_would_run(tmp_path):
    source = tmp_path / "in.csv"
    pd.DataFrame({"source": ["=cmd", "app"], "log_message": ["@evil", "-2+3"],
                  "=header": ["+x", "-7"]}).to_csv(source, index=False)
    classify_csv(FakeClassifier(), source, tmp_path / "out.csv")
    header, *rows = rows_of(tmp_path / "out.csv")
    assert header == ["source", "log_message", "'=header", *OUTPUT_COLUMNS]
    assert rows[0][:3] == ["'=cmd", "'@evil", "'+x"]
    assert rows[1][:3] == ["app", "'-2+3", "-7"]
    cells = [cell for row in [header, *rows] for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r") or (c[:1] == "-" and c != "-7")]


@pytest.mark.parametrize("text, row, line, fields", [
    ("source,log_message\na,b\nc,d,e\n", 2, 3, 3),
    ("source,log_message\na,b\nc\n", 2, 3, 1),
    ('source,log_message\na,"multi\nline"\n\nc,d,e\n', 2, 5, 3),  # the row number skips blank lines
    ("source,log_message,extra\na,b\n", 1, 2, 2),
])
def test_ragged_rows_are_refused_with_their_row_number(text, row, line, fields):
    with pytest.raises(CsvInputError, match=f"row {row} \\(line {line}\\) has {fields} field"):
        list(read_input_chunks(text.encode()))


def test_a_row_with_one_extra_field_everywhere_is_not_taken_as_an_index():
    # pandas would silently make the first column the index here
    with pytest.raises(CsvInputError, match="row 1 .* has 3 field"):
        list(read_input_chunks(b"source,log_message\nx,a,b\ny,c,d\n"))


@pytest.mark.parametrize("column", OUTPUT_COLUMNS)
def test_an_input_with_an_output_column_is_refused(column):
    text = f"source,log_message,{column}\na,b,old\n".encode()
    with pytest.raises(CsvColumnsError, match=f"already has column\\(s\\) {column}"):
        list(read_input_chunks(text))
    with pytest.raises(CsvColumnsError, match=column):  # also for frames that did not come from a CSV
        classify_frame(FakeClassifier(), pd.DataFrame({"source": ["a"], "log_message": ["b"], column: ["x"]}))


@pytest.mark.parametrize("text, error, says", [
    (b"source,log_message,source\na,b,c\n", CsvColumnsError, "'source' appear more than once"),
    (b"src,msg\na,b\n", CsvColumnsError, "missing column(s) source, log_message"),
    (b'source,log_message\na,"b"c\n', CsvInputError, "not a valid CSV at line 2"),
    (b'source,log_message\na,"never closed\n', CsvInputError, "not a valid CSV at line 2"),
    (b"source,log_message\na," + b"x" * 200_000 + b"\n", CsvInputError, "field larger than field limit"),
    (b"\n\n,\n", CsvInputError, "empty"),
    (b"source,log_message\n\n\n", CsvInputError, "no rows"),
])
def test_unusable_csvs_are_refused_with_a_reason(text, error, says):
    with pytest.raises(error) as caught:
        list(read_input_chunks(text))
    assert says in str(caught.value)


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"source,log_message\napp,caf\xe9\n")
    with pytest.raises(CsvInputError, match="not UTF-8"):
        list(read_input_chunks(path))


def test_blank_messages_are_unclassified_without_asking_a_tier():
    fake = FakeClassifier()
    frame = pd.DataFrame({"source": ["a", "a", "a", "a"], "log_message": ["boom", "", "   ", "\t"]})
    out = classify_frame(fake, frame)
    assert fake.asked == [("a", "boom")]
    assert out.iloc[0][list(OUTPUT_COLUMNS)].tolist() == ["Error", 0.98, "model", "fake p=0.98"]
    for i in (1, 2, 3):
        assert out.iloc[i][list(OUTPUT_COLUMNS)].tolist() == [
            EMPTY_MESSAGE.target_label, 0.0, EMPTY_MESSAGE.tier, "empty message"]
    assert classify_frame(fake, frame.iloc[1:]).tier.tolist() == ["unclassified"] * 3  # nothing left to ask


def many_rows(path, n=25, bad_row=None):
    lines = ["source,log_message"] + [f"app,line {i}" for i in range(n)]
    if bad_row is not None:
        lines[bad_row] += ",extra"
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("failure", ["classifier", "ragged row", "interrupt"])
def test_a_failed_run_leaves_the_output_as_it_was_and_no_temporary_file(tmp_path, failure):
    source, output = tmp_path / "in.csv", tmp_path / "out" / "OUT.csv"
    many_rows(source, bad_row=22 if failure == "ragged row" else None)
    output.parent.mkdir()
    output.write_text("the previous run's output\n")
    fake = {"classifier": FakeClassifier(fail_on_call=2),
            "ragged row": FakeClassifier(),
            "interrupt": FakeClassifier(fail_on_call=2, error=KeyboardInterrupt())}[failure]
    with pytest.raises((RuntimeError, CsvInputError, KeyboardInterrupt)):
        classify_csv(fake, source, output, chunk_rows=10)
    assert fake.calls >= 1  # the first chunk was written to the temporary file before the failure
    assert output.read_text() == "the previous run's output\n"
    assert sorted(p.name for p in output.parent.iterdir()) == ["OUT.csv"]


def test_a_run_replaces_the_output_whole_with_the_usual_permissions(tmp_path):
    source, output = tmp_path / "in.csv", tmp_path / "new" / "out.csv"
    many_rows(source)
    old_umask = os.umask(0o027)
    try:
        summary = classify_csv(FakeClassifier(), source, output, chunk_rows=10)
    finally:
        os.umask(old_umask)
    assert (summary.rows, summary.empty_messages) == (25, 0)
    out = pd.read_csv(output)
    assert len(out) == 25 and list(out.columns) == ["source", "log_message", *OUTPUT_COLUMNS]
    assert output.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in output.parent.iterdir()) == ["out.csv"]


def test_streams_in_and_out():
    out = io.StringIO()
    summary = classify_csv(FakeClassifier(), io.StringIO("source,log_message\na,b\na,\n", newline=""), out)
    assert (summary.rows, summary.empty_messages) == (2, 1)
    assert out.getvalue().splitlines() == ["source,log_message,target_label,confidence,tier,reason",
                                           "a,b,Error,0.98,model,fake p=0.98",
                                           "a,,unclassified,0.0,unclassified,empty message"]
