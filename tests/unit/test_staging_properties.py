"""Staging never raises and never loses a line, whatever bytes, lines or JSON a landing file holds."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logpilot_dagster.ingest.sources import SourcesRegistry
from logpilot_dagster.ingest.staging import stage_file
from logpilot_dagster.store.layout import HomeLayout

REGISTRY = SourcesRegistry.default()
NOVA_KEY, JSON_KEY = "nova/nova-compute.log.2026-03-04", "app_json/app.jsonl"
NOVA_LINE = "2026-03-04 12:00:01.000 2931 INFO nova.compute.manager [req-1] "

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30)
json_records = st.fixed_dictionaries(
    {}, optional={"ts": st.one_of(st.text(max_size=40), st.sampled_from(
        ["2026-03-04T12:00:01Z", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "2026-13-40"])),
                  "msg": st.one_of(st.text(max_size=60), json_values), "level": json_values,
                  "service": json_values, "extra": json_values})
lines = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: (NOVA_LINE + t).encode("utf-8", "surrogatepass")),
    json_records.map(lambda r: json.dumps(r).encode()),
    st.integers(1, 3000).map(lambda depth: b'{"ts": "2026-03-04T12:00:01Z", "msg": ' + b"[" * depth + b"]" * depth
                             + b"}"),
)


def _stage(data: bytes, key: str):
    with tempfile.TemporaryDirectory() as folder:
        layout = HomeLayout(Path(folder)).ensure()
        path = layout.landing / key
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
        stats = stage_file(layout, key, REGISTRY)
        staged = pq.read_table(layout.staged_file(key)).num_rows
        bad = pq.read_table(layout.quarantine_file(key), columns=["n_lines"]).column("n_lines").to_pylist()
        return stats, staged, sum(bad)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lines, max_size=12), st.sampled_from([NOVA_KEY, JSON_KEY]), st.sampled_from([b"\n", b"\r\n"]))
def test_any_file_is_conserved(body, key, newline):
    data = newline.join(body)
    stats, staged, quarantined = _stage(data, key)
    assert stats.conserved
    assert stats.records == staged
    assert stats.lines_read - stats.header_lines == stats.record_lines + quarantined
