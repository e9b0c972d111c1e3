"""The store's sink registry: every copy of a line's content can be found and deleted by subject."""

from __future__ import annotations

import duckdb

from logpilot_dagster.bootstrap.steps import run_bootstrap
from logpilot_dagster.store import sinks
from logpilot_dagster.store.tables import conservation

SUBJECT = "cust_zed991"
LINES = (
    "2026-03-04 12:00:01.000 2931 INFO nova.compute.manager [req-1] Instance started for account cust_zed991\n"
    "2026-03-04 12:00:02.000 2931 INFO nova.compute.manager [req-2] Instance started for account cust_zed9910\n"
    "2026-03-04 12:00:03.000 2931 INFO nova.compute.manager [req-3] owner=cust_zed991 quota exceeded\n"
    "cust_zed991 wrote this line without a header\n"
)


def test_a_subject_is_found_in_every_copy_and_deleted_from_all_of_them(home):
    key = "nova/nova-compute.log.2026-03-04"
    (home.landing / key).write_text(LINES)
    run_bootstrap(home, keys=[key], workers=1)
    found = sinks.find_everywhere(home, SUBJECT)
    for name in ("logs", "quarantine", "staging", "parsed", "quarantine_files", "miner_state"):
        assert found[name] > 0, (name, found)
    with duckdb.connect(str(home.duckdb), read_only=True) as con:
        before = conservation(con)
    for sink in sinks.SINKS:
        sink.delete(home, SUBJECT)
        assert sink.delete(home, SUBJECT) == 0  # idempotent
    assert set(sinks.find_everywhere(home, SUBJECT).values()) == {0}
    with duckdb.connect(str(home.duckdb), read_only=True) as con:
        kept = con.execute("SELECT message FROM logs").fetchall()
        after = conservation(con)
    assert [m for m, in kept] == ["[req-2] Instance started for account cust_zed9910"]  # a longer word is kept
    assert after["lines_stored"] == before["lines_stored"] - 2
    assert after["lines_quarantined"] == before["lines_quarantined"] - 1
