"""Staging one landing file: every physical line ends in a record or in the quarantine with a reason."""

import base64
import gzip
import json

import pyarrow.parquet as pq
import pytest

from logpilot_dagster.ingest.sources import SourcesRegistry
from logpilot_dagster.ingest.staging import StageLimits, read_stage_stats, stage_file
from logpilot_dagster.store.layout import HomeLayout


@pytest.fixture
def dirs(tmp_path):
    return HomeLayout(tmp_path).ensure()


def stage(dirs, key, data: bytes, **limits):
    path = dirs.landing / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    stats = stage_file(dirs, key, SourcesRegistry.default(), StageLimits(**limits))
    staged = pq.read_table(dirs.staged_file(key)).to_pylist()
    bad = pq.read_table(dirs.quarantine_file(key)).to_pylist()
    assert stats.conserved
    assert read_stage_stats(dirs, key) == stats
    return stats, staged, bad


NOVA = b"2026-03-04 12:00:0%d.000 2931 INFO nova.compute.manager [req-%d] VM Started\n"


def test_good_lines_are_staged_with_utc_timestamps_and_masked(dirs):
    data = NOVA % (1, 1) + b"2026-03-04 12:00:02.000 2931 WARN nova.api user bob@example.com from 10.1.2.3\n"
    stats, staged, bad = stage(dirs, "nova/nova-compute.log.2026-03-04", data)
    assert (stats.lines_read, stats.records, bad) == (2, 2, [])
    assert staged[1]["message"] == "user <EMAIL_REDACTED> from <IP_REDACTED>"
    assert staged[1]["ts"].isoformat() == "2026-03-04T12:00:02+00:00"
    assert stats.pii_masked_lines == 1
    assert len({r["log_id"] for r in staged}) == 2


@pytest.mark.parametrize("line, reason", [
    (b"2026-03-04 12:00:09.000 1 INFO x caf\xe9 \xff", "undecodable"),
    (b"2026-03-04 12:00:09.000 1 INFO x nul\x00byte", "nul_bytes"),
    (b"this line has no header", "no_header_match"),
    (b"2026-99-04 12:00:09.000 1 INFO x bad month", "bad_timestamp"),
    (b"   ", "blank_line"),
])
def test_each_bad_line_class_is_quarantined_with_its_reason(dirs, line, reason):
    stats, staged, bad = stage(dirs, "nova/a.log", NOVA % (1, 1) + line + b"\n" + NOVA % (2, 2))
    assert len(staged) == 2
    assert [(b["reason"], b["line_no"], b["n_lines"]) for b in bad] == [(reason, 2, 1)]
    assert stats.quarantine_by_reason == {reason: 1}


def test_quarantined_bytes_are_kept_but_masked(dirs):
    _, _, bad = stage(dirs, "nova/a.log", b"mail me at bob@example.com \xff\n")
    raw = base64.b64decode(bad[0]["raw_b64"])
    assert b"bob@example.com" not in raw and b"<EMAIL_REDACTED>" in raw and raw.endswith(b"\xff")


def test_empty_missing_and_unknown_files(dirs):
    stats, staged, bad = stage(dirs, "nova/empty.log", b"")
    assert [b["reason"] for b in bad] == ["empty_file"] and staged == []
    stats, _, bad = stage(dirs, "misc/notes.txt", b"one\ntwo\n")
    assert [b["reason"] for b in bad] == ["no_source", "no_source"] and stats.lines_read == 2
    stats = stage_file(dirs, "nova/gone.log", SourcesRegistry.default())
    assert stats.quarantine_by_reason == {"missing_file": 1}


def test_over_long_line_and_truncated_gzip(dirs):
    stats, staged, bad = stage(dirs, "nova/long.log", NOVA % (1, 1) + b"x" * (2 << 20) + b"\n" + NOVA % (2, 2))
    assert len(staged) == 2 and [b["reason"] for b in bad] == ["line_too_long"]
    assert bad[0]["raw_size"] > 2 << 20
    blob = gzip.compress(b"".join(NOVA % (i % 10, i) for i in range(5000)))
    stats, staged, bad = stage(dirs, "nova/cut.log.gz", blob[: len(blob) // 2])
    assert 0 < len(staged) < 5000 and bad[-1]["reason"] == "truncated_gzip"
    assert stats.lines_read == len(staged)


def test_stack_traces_join_into_one_record(dirs):
    data = (b"2026-03-04 12:00:01,000 ERROR [main] com.acme.Billing - Payment failed\n"
            b"java.lang.IllegalStateException: boom\n\tat com.acme.Billing.pay(Billing.java:42)\n"
            b"2026-03-04 12:00:02,000 INFO [main] com.acme.Billing - ok\n")
    stats, staged, _ = stage(dirs, "billing/billing-2026-03-04.log", data)
    assert [r["n_lines"] for r in staged] == [3, 1]
    assert staged[0]["message"].splitlines()[1] == "java.lang.IllegalStateException: boom"
    assert stats.record_lines == 4


def test_csv_export_with_bom_quoted_newlines_and_bad_rows(dirs):
    data = ("\ufefftimestamp,source,log_message\r\n"
            '2026-03-04 10:00:00,ModernCRM,"User 7, logged in"\r\n'
            '2026-03-04 10:00:01,ModernHR,"first\nsecond"\r\n'
            "2026-03-04 10:00:02,ModernHR\r\n").encode()
    stats, staged, bad = stage(dirs, "crm_export/export-2026-03.csv", data)
    assert [(r["source"], r["message"], r["n_lines"]) for r in staged] == [
        ("ModernCRM", "User 7, logged in", 1), ("ModernHR", "first\nsecond", 2)]
    assert [b["reason"] for b in bad] == ["bad_csv_row"] and stats.header_lines == 1


def test_csv_with_wrong_columns_is_quarantined_row_by_row(dirs):
    stats, staged, bad = stage(dirs, "crm_export/x.csv", b"when,text\n2026-01-01,hello\n2026-01-02,bye\n")
    assert staged == [] and {b["reason"] for b in bad} == {"bad_csv_header"} and len(bad) == 2


# --- hostile input ----------------------------------------------------------------------------------

def test_a_symlink_is_quarantined_without_reading_a_byte(dirs, tmp_path):
    secret = tmp_path / "outside.log"
    secret.write_bytes(b"2026-03-04 12:00:01.000 1 INFO nova.x secret-line root:x:0:0\n")
    (dirs.landing / "nova").mkdir(parents=True)
    (dirs.landing / "nova" / "x.log").symlink_to(secret)
    (dirs.landing / "linked").symlink_to(tmp_path)  # a linked folder: listed, never walked into
    assert dirs.landing_keys() == ["linked", "nova/x.log"]
    stats = stage_file(dirs, "nova/x.log", SourcesRegistry.default())
    bad = pq.read_table(dirs.quarantine_file("nova/x.log")).to_pylist()
    assert [(b["reason"], b["raw_b64"], b["n_lines"]) for b in bad] == [("symlink", "", 0)]
    assert stats.records == 0 and stats.conserved
    assert b"secret-line" not in dirs.staged_file("nova/x.log").read_bytes()


@pytest.mark.parametrize("key", ["../../outside/secret.log", "/etc/passwd", "nova/../../x", "a\x00b", ""])
def test_a_key_that_leaves_the_landing_folder_is_refused(dirs, key):
    from logpilot_dagster.store.layout import UnsafeKeyError, safe_keys

    with pytest.raises(UnsafeKeyError):
        stage_file(dirs, key, SourcesRegistry.default())
    ok, refused = safe_keys([key, "nova/a.log"])
    assert ok == ["nova/a.log"] and list(refused) == [key]
    assert not (dirs.home.parent / "outside").exists()


JSON_KEY = "app_json/app.jsonl"


def test_json_nested_thousands_deep_is_quarantined_not_a_crash(dirs):
    good = b'{"ts": "2026-03-04T12:00:01Z", "level": "info", "service": "api", "msg": "charge ok"}\n'
    deep = b'{"ts": "2026-03-04T12:00:02Z", "msg": "x", "a": ' + b"[" * 5000 + b"]" * 5000 + b"}\n"
    stats, staged, bad = stage(dirs, JSON_KEY, good + deep + good)
    assert len(staged) == 2 and [b["reason"] for b in bad] == ["bad_json"]
    assert "nested deeper" in bad[0]["detail"]


@pytest.mark.parametrize("ts", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00",
                                "9999-12-31T23:59:59", "1969-07-20T20:17:00Z", "2026-03-04T12:00:01Z" + "9" * 80])
def test_timestamps_that_overflow_or_leave_the_range_are_bad_timestamps(dirs, ts):
    line = json.dumps({"ts": ts, "msg": "charge ok"}).encode() + b"\n"
    stats, staged, bad = stage(dirs, JSON_KEY, line)
    assert staged == [] and [b["reason"] for b in bad] == ["bad_timestamp"]


def test_a_naive_year_9999_in_a_non_utc_source_is_a_bad_timestamp():
    from logpilot_dagster.ingest.formats import HeaderError, TimestampParser

    with pytest.raises(HeaderError, match="bad_timestamp"):
        TimestampParser("%Y-%m-%d %H:%M:%S", "America/New_York").parse("9999-12-31 23:59:59")


def test_lines_dated_in_the_future_are_quarantined_and_the_skew_is_configurable(dirs):
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    lines = b"".join(json.dumps({"ts": ts, "msg": "m"}).encode() + b"\n"
                     for ts in ("2026-03-04T11:00:00Z", "2026-03-05T11:00:00Z", "2026-03-06T12:00:01Z"))
    stats, staged, bad = stage(dirs, JSON_KEY, lines, now=now)
    assert len(staged) == 2 and [b["reason"] for b in bad] == ["future_timestamp"]
    stats, staged, bad = stage(dirs, JSON_KEY, lines, now=now, max_future_skew=timedelta(hours=1))
    assert len(staged) == 1 and [b["reason"] for b in bad] == ["future_timestamp"] * 2
    assert stats.max_ts.startswith("2026-03-04T11:00")


def test_over_long_fields_are_quarantined(dirs):
    line = json.dumps({"ts": "2026-03-04T11:00:00Z", "service": "s" * 600, "msg": "m"}).encode() + b"\n"
    stats, staged, bad = stage(dirs, JSON_KEY, line)
    assert staged == [] and [b["reason"] for b in bad] == ["field_too_long"]
