"""Header formats, timestamps and the sources registry."""

from datetime import UTC, datetime

import pytest

from logpilot_dagster.ingest.formats import (
    CsvFormat,
    HeaderError,
    JsonLinesFormat,
    RegexFormat,
    TimestampParser,
    syslog_level,
)
from logpilot_dagster.ingest.sources import RegistryError, SourcesRegistry


def builtin(name: str) -> RegexFormat:
    return SourcesRegistry.from_toml(f'[[source]]\nname="s"\npath="*"\nformat="{name}"\n')["s"].log_format


def test_openstack_header_is_split_and_timestamp_is_utc():
    h = builtin("openstack").parse(
        "2026-03-04 12:00:01.123 2931 INFO nova.compute.manager [req-1] VM Started (Lifecycle Event)")
    assert h.ts == datetime(2026, 3, 4, 12, 0, 1, 123000, tzinfo=UTC)
    assert (h.level, h.component) == ("INFO", "nova.compute.manager")
    assert h.message == "[req-1] VM Started (Lifecycle Event)"


def test_syslog_year_comes_from_the_reference_and_steps_back_over_new_year():
    fmt = builtin("syslog")
    h = fmt.parse("<38>Dec 31 23:59:59 host sshd[12]: Accepted password for x", datetime(2026, 1, 1, tzinfo=UTC))
    assert h.ts == datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert (h.level, h.component, h.message) == ("INFO", "sshd", "Accepted password for x")
    assert fmt.parse("Mar  4 01:02:03 host cron: job", datetime(2026, 3, 5, tzinfo=UTC)).ts.day == 4


def test_apache_and_log4j_headers():
    h = builtin("apache_error").parse("[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6")
    assert (h.ts, h.level) == (datetime(2005, 12, 4, 4, 47, 44, tzinfo=UTC), "ERROR")
    h = builtin("log4j").parse("2026-03-04 12:00:01,250 WARN  [main] com.acme.Billing - slow call")
    assert h.ts.microsecond == 250000 and (h.level, h.message) == ("WARN", "slow call")


def test_naive_timestamps_are_read_in_the_configured_zone():
    ts = TimestampParser("iso", "Europe/Berlin").parse("2026-07-01 12:00:00")
    assert ts == datetime(2026, 7, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2026-13-01 00:00:00", "yesterday", ""])
def test_bad_timestamps_raise_with_reason(text):
    with pytest.raises(HeaderError) as err:
        TimestampParser("iso").parse(text)
    assert err.value.reason == "bad_timestamp"


def test_regex_without_header_match_has_a_reason():
    with pytest.raises(HeaderError) as err:
        builtin("openstack").parse("garbage line")
    assert err.value.reason == "no_header_match"


def test_json_lines():
    fmt = JsonLinesFormat()
    h = fmt.parse('{"ts": "2026-01-02T03:04:05+01:00", "level": "warning", "service": "api", "msg": "slow"}')
    assert (h.ts, h.level, h.component, h.message) == (datetime(2026, 1, 2, 2, 4, 5, tzinfo=UTC), "WARN", "api",
                                                       "slow")
    for bad, reason in (('{"ts": 1', "bad_json"), ("[1]", "bad_json"), ('{"ts": "2026-01-01"}', "bad_json"),
                        ('{"msg": "x"}', "bad_timestamp")):
        with pytest.raises(HeaderError) as err:
            fmt.parse(bad)
        assert err.value.reason == reason


def test_csv_rows_and_columns():
    fmt = CsvFormat()
    with pytest.raises(HeaderError):
        fmt.check_columns(["time", "text"])
    h = fmt.parse_row({"timestamp": "2026-01-01 00:00:00", "source": "ModernCRM", "log_message": "a, b"})
    assert (h.source, h.message) == ("ModernCRM", "a, b")


def test_syslog_pri_maps_to_severity():
    assert [syslog_level(p) for p in ("11", "12", "14", "15")] == ["ERROR", "WARN", "INFO", "DEBUG"]


def test_registry_matches_globs_and_gzip():
    registry = SourcesRegistry.default()
    assert registry.source_for("nova/nova-compute.log.2026-01-01.gz").name == "nova"
    assert registry.source_for("syslog/syslog-20260101.log").name == "syslog"
    assert registry.source_for("misc/notes.txt") is None


@pytest.mark.parametrize("text, message", [
    ("not toml [", "Expected"),
    ("x = 1", "at least one [[source]]"),
    ('[[source]]\nname="a"\npath="*"\n', "missing key 'format'"),
    ('[[source]]\nname="a"\npath="*"\nformat="regex"\n', "needs a `pattern`"),
    ('[[source]]\nname="a"\npath="*"\nformat="regex"\npattern="(?P<ts>x)"\n', "named groups"),
    ('[[source]]\nname="a"\npath="*"\nformat="nope"\n', "unknown format"),
    ('[[source]]\nname="a"\npath="*"\nformat="syslog"\n[[source]]\nname="a"\npath="b"\nformat="syslog"\n',
     "unique"),
])
def test_registry_errors_are_clear(text, message):
    with pytest.raises(RegistryError, match=message.replace("[", r"\[").replace("(", r"\(")):
        SourcesRegistry.from_toml(text, "test.toml")


def test_registry_load_order(tmp_path, monkeypatch):
    own = tmp_path / "sources.toml"
    own.write_text('[[source]]\nname="mine"\npath="**/*.log"\nformat="syslog"\n')
    monkeypatch.delenv("LOGPILOT_SOURCES", raising=False)
    assert SourcesRegistry.load(home_file=own).source_for("a/b/c.log").name == "mine"
    monkeypatch.setenv("LOGPILOT_SOURCES", str(tmp_path / "missing.toml"))
    with pytest.raises(RegistryError, match="not found"):
        SourcesRegistry.load(home_file=own)


def test_syslog_year_follows_a_file_started_before_new_year():
    fmt = builtin("syslog")
    h = fmt.parse("<14>Jan  2 08:00:00 host cron[1]: job", datetime(2025, 12, 28, 23, 59, 59, tzinfo=UTC))
    assert h.ts == datetime(2026, 1, 2, 8, 0, tzinfo=UTC)
    with pytest.raises(HeaderError):
        fmt.parse("<14>Feb 30 08:00:00 host cron[1]: job", datetime(2026, 1, 1, tzinfo=UTC))
