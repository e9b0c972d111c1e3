"""Format inference for headers the first rules did not read: timestamps in more shapes (some without a year,
some whose day and month could be swapped), header fields before the timestamp or before the level, a
separator after the timestamp, nested brackets, one-letter levels. The lines are made up here, one log
style per test, with fields drawn at random."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from logpilot_dagster.ingest import discovery
from logpilot_dagster.ingest.formats import HeaderError, TimestampParser
from logpilot_dagster.ingest.sources import SourcesRegistry

WORDS = ("started", "stopped", "connection", "from", "to", "timeout", "retry", "cache", "miss", "user", "job",
         "queue", "flushed", "opened", "closed", "request", "served", "in", "ms", "bytes")


def _lines(render, n: int = 300, seed: int = 5, start: datetime = datetime(2026, 3, 17, 8, 0, tzinfo=UTC)):
    rng = random.Random(seed)
    ts = start
    out = []
    for i in range(n):
        ts += timedelta(seconds=rng.randint(0, 90), microseconds=rng.randint(0, 999_999))
        message = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 9))) + f" {rng.randint(0, 99999)}"
        out.append(render(rng, ts, i, message))
    return out


def _infer(lines, dates=None):
    found = discovery.infer("new", "new/*.log", lines, dates=dates)
    assert not isinstance(found, str), found
    return found, found.registry().sources[0].log_format


LEVEL = ("INFO", "WARN", "ERROR", "DEBUG")


def test_a_logcat_style_header_without_a_year_and_with_one_letter_levels():
    lines = _lines(lambda r, ts, i, m: f"{ts:%m-%d %H:%M:%S}.{ts.microsecond // 1000:03d}  {r.randint(100, 999)}"
                   f"  {r.randint(100, 999)} {r.choice('VDIWE')} Tag{r.randint(1, 5)}: {m}")
    _, fmt = _infer(lines)
    header = fmt.parse(lines[0], datetime(2026, 12, 2, tzinfo=UTC))
    # No year in the line: the latest that does not put it in the future (the nearest would be 2027).
    assert header.ts.year == 2026 and header.ts.month == 3
    assert header.level in ("DEBUG", "INFO", "WARN", "ERROR") and header.component.startswith("Tag")
    assert not header.message.startswith(("Tag", ":"))


def test_a_timestamp_after_a_leading_field_and_fields_before_the_level():
    lines = _lines(lambda r, ts, i, m: f"node-{r.randint(1, 40)} {ts:%Y-%m-%d %H:%M:%S} R{r.randint(0, 9)}-M1 "
                   f"KERNEL {r.choice(LEVEL)} {m}")
    _, fmt = _infer(lines)
    header = fmt.parse(lines[3])
    assert header.ts.tzinfo is not None and header.level in LEVEL
    assert lines[3].endswith(header.message) and not header.message.startswith(("KERNEL", "R"))


def test_a_separator_after_the_timestamp_and_nested_brackets():
    comma = _lines(lambda r, ts, i, m: f"{ts:%Y-%m-%d %H:%M:%S}, {r.choice(('Info', 'Warning'))} {m}")
    _, fmt = _infer(comma)
    assert fmt.parse(comma[0]).level in ("INFO", "WARN")
    padded = _lines(lambda r, ts, i, m: f"{ts:%Y-%m-%d %H:%M:%S}, {r.choice(('Info', 'Warning')):<12}"
                    f"{r.choice(('CBS', 'CSI', 'TrustedInstaller')):<18}{m}")
    _, fmt = _infer(padded)
    header = fmt.parse(padded[0])
    assert header.component in ("CBS", "CSI", "TrustedInstaller") and padded[0].endswith("  " + header.message)
    nested = _lines(lambda r, ts, i, m: f"{ts:%Y-%m-%d %H:%M:%S},{ts.microsecond // 1000:03d} - "
                    f"{r.choice(LEVEL)} [Worker[id={r.randint(1, 3)}]/10.0.0.{r.randint(1, 9)}:2181] - {m}")
    _, fmt = _infer(nested)
    header = fmt.parse(nested[1])
    assert header.level in LEVEL and not header.message.startswith(("-", "[", "/"))


def test_compact_and_slashed_dates():
    compact = _lines(lambda r, ts, i, m: f"{ts:%y%m%d %H%M%S} {r.randint(10, 999)} {r.choice(LEVEL)} "
                     f"dfs.Node{r.randint(1, 3)}: {m}")
    _, fmt = _infer(compact)
    assert fmt.parse(compact[0]).ts.date() == datetime(2026, 3, 17).date()
    slashed = _lines(lambda r, ts, i, m: f"{ts:%Y/%m/%d %H:%M:%S} [{r.choice(('error', 'notice'))}] {m}")
    _, fmt = _infer(slashed)
    assert fmt.parse(slashed[0]).ts.date() == datetime(2026, 3, 17).date()


def test_a_date_whose_day_and_month_could_be_swapped_is_proposed_but_not_accepted_automatically(monkeypatch):
    lines = _lines(lambda r, ts, i, m: f"{ts:%y/%m/%d %H:%M:%S} {r.choice(LEVEL)} app.Main: {m}",
                   start=datetime(2017, 6, 9, 8, 0, tzinfo=UTC), n=200)
    found, fmt = _infer(lines)
    assert found.options["ts_format"] == "%y/%m/%d %H:%M:%S" and fmt.parse(lines[0]).ts.year == 2017
    assert found.evidence["ambiguous_ts_format"] == ["%d/%m/%y %H:%M:%S"]
    monkeypatch.setenv(discovery.AUTO_ACCEPT_ENV, "1")
    assert discovery.auto_accept() and not discovery.auto_accepts(found)
    clear = _lines(lambda r, ts, i, m: f"{ts:%y/%m/%d %H:%M:%S} {r.choice(LEVEL)} app.Main: {m}",
                   start=datetime(2017, 6, 28, 8, 0, tzinfo=UTC), n=200)  # as a year, 28 is in the future
    found, _ = _infer(clear)
    assert "ambiguous_ts_format" not in found.evidence and discovery.auto_accepts(found)


def test_year_less_timestamps_are_read_against_each_file_s_date():
    """An archived file of three years ago: its year-less lines are read in its own year, as staging reads them
    (from the date in its name or its modification time), not in the latest past one."""
    year = datetime.now(UTC).year - 3
    lines = _lines(lambda r, ts, i, m: f"{ts:%m-%d %H:%M:%S}.000 {r.choice(LEVEL)} svc: {m}",
                   start=datetime(year, 3, 17, tzinfo=UTC), n=200)
    file_date = datetime(year, 3, 31, 23, 59, tzinfo=UTC)
    found, fmt = _infer(lines, dates=[file_date] * len(lines))
    assert fmt.parse(lines[0], file_date).ts.year == year
    assert fmt.parse(lines[0]).ts.year != year  # read against now


@pytest.mark.parametrize(("text", "reference", "year"), [
    ("Jan  2 08:00:00", datetime(2025, 12, 28, tzinfo=UTC), 2026),  # a file started before New Year
    ("Jan 15 08:00:00", datetime(2024, 12, 1, 23, 59, tzinfo=UTC), 2025),  # syslog-20241201.log, 45 days on
    ("Dec 31 23:59:59", datetime(2026, 1, 1, tzinfo=UTC), 2025),
])
def test_the_year_of_a_year_less_timestamp(text, reference, year):
    assert TimestampParser("syslog").parse(text, reference).year == year
    assert TimestampParser("%b %d %H:%M:%S").parse(text.replace("  ", " 0"), reference).year == year


def test_a_year_less_timestamp_is_never_put_in_the_future():
    """Read in December, a line of March is this year's: the nearest year would be the next one."""
    now = datetime.now(UTC)
    line = now - timedelta(days=260)
    text = f"{line:%b %d %H:%M:%S}"
    assert TimestampParser("syslog").parse(text, now).year == line.year
    assert TimestampParser("%b %d %H:%M:%S").parse(text, now).year == line.year


def test_a_year_less_format_with_an_offset_reads_and_a_bad_one_is_a_bad_timestamp():
    parser = TimestampParser("%m-%d %H:%M:%S %z")
    value = parser.parse("03-17 10:00:00 +0200", datetime(2026, 6, 1, tzinfo=UTC))
    assert value == datetime(2026, 3, 17, 8, 0, tzinfo=UTC)
    with pytest.raises(HeaderError):
        parser.parse("02-30 10:00:00 +0200", datetime(2026, 6, 1, tzinfo=UTC))


def test_a_syslog_tag_with_parentheses_is_read():
    syslog = SourcesRegistry.from_toml('[[source]]\nname="s"\npath="*"\nformat="syslog"\n')["s"].log_format
    header = syslog.parse("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure",
                                     datetime(2026, 7, 1, tzinfo=UTC))
    assert (header.component, header.message) == ("sshd(pam_unix)", "authentication failure")


def test_lines_without_a_header_are_still_refused():
    lines = _lines(lambda r, ts, i, m: m)
    assert isinstance(discovery.infer("new", "new/*.log", lines), str)
    # A timestamp inside the message, after varying words, is no header either, nor after the same words.
    inside = _lines(lambda r, ts, i, m: f"{m} at {ts:%Y-%m-%d %H:%M:%S}")
    assert isinstance(discovery.infer("new", "new/*.log", inside), str)
    worded = _lines(lambda r, ts, i, m: f"job {i} finished {ts:%Y-%m-%d %H:%M:%S} rc={r.randint(0, 2)}")
    found = discovery.infer("new", "new/*.log", worded)
    assert isinstance(found, str) or found.registry().sources[0].log_format.parse(worded[0]).message.startswith("job")


def test_a_tag_with_a_bracketed_name_and_a_padded_column_with_some_longer_names():
    tagged = _lines(lambda r, ts, i, m: f"{ts:%Y-%m-%dT%H:%M:%S}+00:00 {r.choice(('app', 'heroku'))}"
                    f"[{r.choice(('web.1', 'router', 'worker.2'))}]: {m}")
    _, fmt = _infer(tagged)
    assert fmt.parse(tagged[0]).component in ("app", "heroku")
    names = ["db", "http", "cache", "scheduler"] * 24 + ["very.long.logger.name"] * 3  # 3 % longer than the column
    padded = _lines(lambda r, ts, i, m: f"{ts:%Y-%m-%d %H:%M:%S} {r.choice(LEVEL):<6}"
                    f"{names[i % len(names)]:<10} {m}", n=297)
    found, fmt = _infer(padded)
    long_line = next(line for line in padded if "very.long.logger.name" in line)
    assert fmt.parse(long_line).message and found.evidence["parsed_share"] == 1.0


def test_the_loghub_inference_benchmark_scores_messages_against_the_structured_csv(tmp_path):
    from logpilot_dagster.bench.sources_inference import measure_loghub

    lines = _lines(lambda r, ts, i, m: f"{ts:%y%m%d %H%M%S} {r.randint(10, 999)} INFO dfs.Node: {m}", n=50)
    folder = tmp_path / "Made"
    folder.mkdir()
    (folder / "Made_2k.log").write_text("\n".join(lines) + "\n")
    rows = ["LineId,Content"] + [f'{i},"{line.split(": ", 1)[1]}"' for i, line in enumerate(lines, start=1)]
    (folder / "Made_2k.log_structured.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "Headerless").mkdir()
    (tmp_path / "Headerless" / "Headerless_2k.log").write_text("no header here\n" * 50)
    (tmp_path / "Headerless" / "Headerless_2k.log_structured.csv").write_text("LineId,Content\n1,x\n")
    report = measure_loghub(tmp_path)
    assert (report["proposed"], report["of"], report["lines_parsed"]) == (1, 2, 50)
    made = next(r for r in report["datasets"] if r["dataset"] == "Made")
    assert made["same_message"] == 50
