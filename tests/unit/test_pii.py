"""Personal-data masking: every kind is masked, every look-alike is left alone, masking is idempotent."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import gzip
import io
import ipaddress
import subprocess
import sys
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logpilot_dagster.pii import (
    KINDS,
    TOKENS,
    PiiMatch,
    contains_pii,
    find_pii,
    mask,
    mask_stream,
    mask_with_counts,
)
from logpilot_dagster.pii.cli import mask_bytes, register

EMAIL, IP, CC, SSN = TOKENS["email"], TOKENS["ip"], TOKENS["cc"], TOKENS["ssn"]
PHONE, KEY = TOKENS["phone"], TOKENS["access_key"]


# --- fixed cases ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    # e-mail
    ("login by john.doe@example.com ok", f"login by {EMAIL} ok"),
    ("to=<a.b+tag@mail.example.co.uk>, relay", f"to=<{EMAIL}>, relay"),
    ("user=jane_doe-1@sub-domain.example.org;", f"user={EMAIL};"),
    ("(bob@example.com)", f"({EMAIL})"),
    # IPv4
    ("client 10.0.0.1 connected", f"client {IP} connected"),
    ("from 10.0.0.1:8080 ok", f"from {IP}:8080 ok"),
    ("ip=192.168.1.254,", f"ip={IP},"),
    ("allow 10.0.0.0/8", f"allow {IP}/8"),
    ("range 10.0.0.1-10.0.0.9", f"range {IP}-{IP}"),
    ("blocked 185.220.101.7.", f"blocked {IP}."),
    ("255.255.255.255 and 0.0.0.0", f"{IP} and {IP}"),
    ("[10.1.2.3]", f"[{IP}]"),
    # IPv6
    ("peer ::1 closed", f"peer {IP} closed"),
    ("fe80::1%eth0 up", f"{IP}%eth0 up"),
    ("connect [2001:db8::1]:443", f"connect [{IP}]:443"),
    ("addr 2001:0db8:85a3:0000:0000:8a2e:0370:7334 ok", f"addr {IP} ok"),
    ("mapped ::ffff:10.0.0.1 ok", f"mapped {IP} ok"),
    ("2a02:8108:1:2:3:4:5:6", IP),
    ("addr fe80::1: refused", f"addr {IP}: refused"),
    # card numbers
    ("card 4111 1111 1111 1111 declined", f"card {CC} declined"),
    ("card 4111-1111-1111-1111 declined", f"card {CC} declined"),
    ("card=4111111111111111", f"card={CC}"),
    ("mc 5500 0000 0000 0004", f"mc {CC}"),
    ("amex 3782 822463 10005", f"amex {CC}"),
    ("amex 378282246310005", f"amex {CC}"),
    ("visa13 4222222222222", f"visa13 {CC}"),
    ("19 digits 6011000000000000001", f"19 digits {CC}"),
    # SSNs
    ("ssn 123-45-6789 viewed", f"ssn {SSN} viewed"),
    ("SSN:078-05-1120", f"SSN:{SSN}"),
    ("area 899-01-0001", f"area {SSN}"),
    # several kinds in one line
    ("bob@example.com from 10.0.0.1 paid 4111111111111111 ssn 123-45-6789",
     f"{EMAIL} from {IP} paid {CC} ssn {SSN}"),
])
def test_personal_data_is_masked(text, expected):
    assert mask(text) == expected
    assert contains_pii(text)


@pytest.mark.parametrize("text", [
    # versions
    "python 3.9.1", "version 1.2.3.4.5", "v2.0.1", "upgraded to 2026.2", "release 10.0.19041.1",
    "agent/1.2.3.4.5.6", "v1.2.3.4",
    # dates, times, timestamps
    "2026-11-01", "11/01/2026", "12:30:45", "12:30:45.123", "2026-11-01T12:30:45.123Z",
    "ts=1700000000", "ts_ms=1700000000123", "ts_us=1700000000123456", "ts_ns=1700000000123456789",
    "Mon Nov  2 12:30:45 2026",
    # durations, sizes, floats
    "took 12ms", "took 3.5s", "heap=8192MB", "ratio 0.4111111111111111",
    # ports
    "host:8080", "listening on :443", "db-1.internal:5432", "[::]:8080",
    # ids
    "request 123e4567-e89b-12d3-a456-426614174000", "uuid 12345678-1234-1234-1234-123456789012",
    "txn=0xdeadbeef12345678", "order 1234567890", "id 4111111111111112", "id 411111111111", "id 41111111111111111111",
    "trace 4111111111111111abc", "ORD4111111111111111",
    # near misses of each kind
    "000-12-3456", "666-12-3456", "912-12-3456", "123-00-4567", "123-45-0000", "1-123-45-6789", "123-45-6789-0",
    "phone 555-123-4567", "999.1.1.1", "256.1.1.1", "10.0.0.1.5", "1.10.0.0.1", "ip10.0.0.1", "10.0.0.1abc",
    "sizes 4096 8192 16384", "0 0 0 0 0 0 0 0 0 0 0 0 0", "4111 1111-1111 1111",
    "user@localhost", "java.lang.Object@6d06d69c", "@mention", "a@b",
    # colons that are not IPv6
    "mac 00:1a:2b:3c:4d:5e", "std::vector<int>", "Foo::bar", "a::b", "x :: y", "1::2::3", "1:2:3:4:5:6:7:8:9",
    "key:value a:1 b:2 c:3 d:4 e:5 f:6",
])
def test_look_alikes_are_left_alone(text):
    assert mask(text) == text
    assert find_pii(text) == []
    assert not contains_pii(text)


def test_find_pii_reports_kinds_and_spans_in_order():
    text = "a@b.io 10.0.0.1 4111111111111111 123-45-6789 ::1"
    found = find_pii(text)
    assert [m.kind for m in found] == ["email", "ip", "cc", "ssn", "ip"]
    assert [text[m.start:m.end] for m in found] == ["a@b.io", "10.0.0.1", "4111111111111111", "123-45-6789", "::1"]
    assert found[0] == PiiMatch("email", 0, 6)
    with pytest.raises(dataclasses.FrozenInstanceError):
        found[0].kind = "ip"  # type: ignore[misc]


def test_overlapping_candidates_keep_the_leftmost():
    # The e-mail's local part holds what would be an IP on its own: one e-mail, nothing else.
    assert find_pii("10.0.0.1+x@b.com") == [PiiMatch("email", 0, 16)]
    # A domain made of digits: the e-mail, not an IP inside it.
    assert [m.kind for m in find_pii("a@10.0.0.1.example.com")] == ["email"]


def test_mask_with_counts_counts_every_kind():
    masked, counts = mask_with_counts("x@y.org and z@y.org from 10.0.0.1 and ::1, card 4111111111111111")
    assert masked == f"{EMAIL} and {EMAIL} from {IP} and {IP}, card {CC}"
    assert counts == dict.fromkeys(KINDS, 0) | {"email": 2, "ip": 2, "cc": 1}
    assert mask_with_counts("nothing here 3.9.1") == ("nothing here 3.9.1", dict.fromkeys(KINDS, 0))


def test_mask_stream_is_lazy_and_keeps_line_endings():
    consumed = []

    def lines():
        for line in ("a 10.0.0.1\n", "plain\r\n", "ssn 123-45-6789"):
            consumed.append(line)
            yield line

    stream = mask_stream(lines())
    assert next(stream) == f"a {IP}\n" and len(consumed) == 1
    assert list(stream) == ["plain\r\n", f"ssn {SSN}"]


def test_non_ascii_text_is_handled():
    text = "usuário josé@exemplo.com.br de 10.0.0.1 — ok ✓ ٣٣٣-٤٥-٦٧٨٩ 4111111111111111"
    # Arabic-Indic digits are not an SSN; an e-mail may hold non-ASCII letters.
    assert mask(text) == f"usuário {EMAIL} de {IP} — ok ✓ ٣٣٣-٤٥-٦٧٨٩ {CC}"


# --- generated cases -----------------------------------------------------------------------------------

_octet = st.integers(0, 255)
ipv4s = st.tuples(_octet, _octet, _octet, _octet).map(lambda o: ".".join(map(str, o)))


def _ipv6_text(value: int, compressed: bool) -> str:
    address = ipaddress.IPv6Address(value)
    return address.compressed if compressed else address.exploded


# A log IPv6 address holds a digit (`a::b` or `::` alone are not masked on purpose).
ipv6s = st.builds(_ipv6_text, st.integers(0, 2**128 - 1), st.booleans()).filter(
    lambda text: any(c.isdigit() for c in text))

_label = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
emails = st.builds(
    lambda local, labels, tld: f"{local}@{'.'.join(labels)}.{tld}",
    st.from_regex(r"[A-Za-z0-9_%+-](?:[A-Za-z0-9._%+-]{0,20}[A-Za-z0-9_%+-])?", fullmatch=True),
    st.lists(_label, min_size=1, max_size=3),
    st.from_regex(r"[a-z]{2,6}", fullmatch=True),
)


def _luhn_complete(partial: str) -> str:
    total = 0
    for position, char in enumerate(reversed(partial)):
        value = int(char)
        if position % 2 == 0:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return partial + str((10 - total % 10) % 10)


@st.composite
def cards(draw) -> str:
    length = draw(st.integers(13, 19))
    first = draw(st.sampled_from("23456"))
    body = first + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=length - 2, max_size=length - 2)))
    digits = _luhn_complete(body)
    if length == 16 and draw(st.booleans()):
        sep = draw(st.sampled_from(" -"))
        return sep.join(digits[i:i + 4] for i in range(0, 16, 4))
    return digits


ssns = st.builds(
    lambda area, group, serial: f"{area:03d}-{group:02d}-{serial:04d}",
    st.integers(1, 899).filter(lambda a: a != 666), st.integers(1, 99), st.integers(1, 9999),
)

_PHONE_FORMS = ("{a}-{e}-{n}", "({a}) {e}-{n}", "+1 ({a}) {e}-{n}", "+1{a}{e}{n}", "{a}.{e}.{n}", "1-{a}-{e}-{n}")
# NANP: area code [2-9][0-8]x, exchange [2-9]xx.
phones = st.builds(
    lambda form, area, exchange, number: form.format(a=area, e=exchange, n=f"{number:04d}"),
    st.sampled_from(_PHONE_FORMS), st.integers(200, 989).filter(lambda a: a // 10 % 10 != 9),
    st.integers(200, 999), st.integers(0, 9999),
)
aws_key_ids = st.from_regex(r"A(?:KIA|SIA)[A-Z2-7]{16}", fullmatch=True)

personal_data = st.one_of(
    ipv4s.map(lambda v: (IP, v)), ipv6s.map(lambda v: (IP, v)), emails.map(lambda v: (EMAIL, v)),
    cards().map(lambda v: (CC, v)), ssns.map(lambda v: (SSN, v)), phones.map(lambda v: (PHONE, v)),
    aws_key_ids.map(lambda v: (KEY, v)),
)

# Delimiters that end any kind of value; the text beyond them is arbitrary.
_delimiters = st.sampled_from(["=", "(", ")", "[", "]", "<", ">", '"', "'", "\t", "\n", "|", ";", ",", "{", "}"])
_filler = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(personal_data, _filler, _delimiters, _delimiters, _filler)
def test_embedded_personal_data_never_survives(kind_value, before, left, right, after):
    token, value = kind_value
    masked = mask(before + left + value + right + after)
    assert value not in masked
    assert left + token + right in masked
    assert find_pii(masked) == []


@settings(max_examples=200)
@given(personal_data, st.sampled_from([
    "user {} logged in", "client=[{}]:8443 GET /api", "to=<{}>, relay=mx.example.com:25", "{}",
    "[{}] denied", "value '{}' rejected", "card {} declined; ssn on file", "{} - - [01/Nov/2026:12:30:45 +0000]",
]))
def test_personal_data_in_log_templates_is_masked(kind_value, template):
    token, value = kind_value
    assert mask(template.format(value)) == mask(template.format("VALUE")).replace("VALUE", token)


@given(ipv4s, st.integers(0, 65535))
def test_ipv4_with_port_masks_just_the_address(address, port):
    # (An IPv6 address takes brackets before a port: `[::1]:8443`; bare, the port reads as a group.)
    assert mask(f"peer {address}:{port} closed") == f"peer {IP}:{port} closed"


_small = st.integers(0, 99)
versions = st.one_of(
    st.tuples(_small, _small, _small).map(lambda v: "{}.{}.{}".format(*v)),
    st.tuples(_small, _small, _small).map(lambda v: "v{}.{}.{}".format(*v)),
    st.lists(st.integers(0, 255), min_size=5, max_size=8).map(lambda v: ".".join(map(str, v))),
)
dates = st.dates().map(lambda d: st.sampled_from([d.isoformat(), d.strftime("%m/%d/%Y"), d.strftime("%d.%m.%Y")]))
times = st.times().map(lambda t: st.sampled_from([t.strftime("%H:%M:%S"), t.strftime("%H:%M:%S.%f")[:-3]]))
durations = st.one_of(st.integers(0, 10**6).map("{}ms".format),
                      st.floats(0, 1e4, allow_nan=False).map("{:.3f}s".format))
ports = st.builds(lambda host, port, bare: f":{port}" if bare else f"{host}:{port}",
                  st.sampled_from(["localhost", "db-1.internal", "api", "10ms"]), st.integers(0, 65535), st.booleans())
uuids = st.integers(0, 2**128 - 1).map(lambda v: str(uuid.UUID(int=v)))
hex_ids = st.from_regex(r"0x[0-9a-f]{4,32}|[0-9a-f]{0,20}[a-f][0-9a-f]{0,20}", fullmatch=True)
numeric_ids = st.one_of(
    st.integers(0, 10**12 - 1).map(str),  # too short to be a card
    st.integers(10**19, 10**25).map(str),  # too long
    st.integers(10**12, 2 * 10**12 - 1).map(str),  # epoch milliseconds: start with 1
    st.integers(10**12, 10**19 - 1).map(str).filter(lambda d: _luhn_complete(d[:-1]) != d),  # fails Luhn
)
hdfs_blocks = st.builds(lambda sign, v: f"blk_{sign}{v}", st.sampled_from(["-", ""]), st.integers(0, 2**63 - 1))
macs = st.builds(lambda octets, sep: sep.join(f"{o:02x}" for o in octets),
                 st.lists(st.integers(0, 255), min_size=6, max_size=6) | st.lists(st.integers(0, 255), min_size=8, max_size=8),
                 st.sampled_from([":", "-"]))
tz_offsets = st.builds(lambda sign, h, m: f"{sign}{h:02d}{m:02d}", st.sampled_from("+-"), st.integers(0, 14),
                       st.sampled_from([0, 30, 45]))
worded_versions = st.builds(lambda word, v: f"{word} {v}", st.sampled_from(["version", "kernel", "firmware", "build"]),
                            st.tuples(_small, _small, _small, _small).map(lambda v: "{}.{}.{}.{}".format(*v)))
container_ids = st.integers(0, 2**256 - 1).map("{:064x}".format)
look_alikes = st.one_of(versions, dates.flatmap(lambda s: s), times.flatmap(lambda s: s), durations, ports,
                        uuids, hex_ids, numeric_ids, hdfs_blocks, macs, tz_offsets, worded_versions, container_ids)


@settings(max_examples=400)
@given(look_alikes, st.sampled_from(["{}", "at {} done", "id={}", "[{}]", "took {}, retry", "({})"]))
def test_look_alikes_are_never_masked(value, template):
    text = template.format(value)
    assert mask(text) == text, find_pii(text)


log_lines = st.lists(st.one_of(personal_data.map(lambda kv: kv[1]), look_alikes, _filler,
                               st.sampled_from([" ", ":", "::", ".", "-", "@", "=", "<IP_REDACTED>"])), max_size=12)


@settings(max_examples=400)
@given(st.one_of(log_lines.map("".join), log_lines.map(" ".join), st.text(max_size=80)))
def test_masking_is_idempotent_and_leaves_nothing(text):
    masked, counts = mask_with_counts(text)
    assert masked == mask(text)
    assert mask(masked) == masked
    assert find_pii(masked) == [] and not contains_pii(masked)
    assert contains_pii(text) == (masked != text)
    new_tokens = sum(masked.count(t) - text.count(t) for t in TOKENS.values())
    assert new_tokens == sum(counts.values())


@settings(max_examples=200)
@given(st.text(max_size=120))
def test_matches_are_ordered_non_overlapping_and_in_bounds(text):
    found = find_pii(text)
    assert all(m.kind in KINDS and 0 <= m.start < m.end <= len(text) for m in found)
    assert all(a.end <= b.start for a, b in zip(found, found[1:], strict=False))


@settings(max_examples=100)
@given(st.lists(st.one_of(personal_data.map(lambda kv: kv[1]), look_alikes, _filler), max_size=20))
def test_mask_stream_equals_mask_per_line(parts):
    lines = [part + "\n" for part in parts]
    assert list(mask_stream(lines)) == [mask(line) for line in lines]


# --- the sample generator's ground truth ---------------------------------------------------------------

def test_agrees_with_the_sample_ground_truth(sample_landing):
    """Every record the generator marks as holding personal data is found, with its kinds; no other is."""
    landing = sample_landing / "landing"
    with gzip.open(sample_landing / "sample_truth" / "ground_truth.csv.gz", "rt", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    files: dict[str, list[bytes]] = {}
    checked = with_pii = 0
    for row in rows:
        path = landing / row["file"]
        if row["file"] not in files:
            try:
                data = path.read_bytes()
                data = gzip.decompress(data) if path.suffix == ".gz" else data
            except (OSError, EOFError):  # the deliberately truncated gzip
                continue
            files[row["file"]] = data.split(b"\n")
        start = int(row["line"]) - 1
        text = b"\n".join(files[row["file"]][start:start + int(row["n_lines"] or 1)]).decode("latin-1")
        expected = set(filter(None, row["pii"].split(",")))
        assert {m.kind for m in find_pii(text)} == expected, text
        checked += 1
        with_pii += bool(expected)
    assert checked > 1000 and with_pii > 50


# --- the command line ----------------------------------------------------------------------------------

_RAW = b"a 10.0.0.1:80 \xff\xfe bob@example.com\r\nok 1.2.3.4.5 \xc3\xa9\n\x80 ssn 123-45-6789"
_MASKED = b"a <IP_REDACTED>:80 \xff\xfe <EMAIL_REDACTED>\r\nok 1.2.3.4.5 \xc3\xa9\n\x80 ssn <SSN_REDACTED>"


def test_mask_bytes_round_trips_undecodable_bytes():
    out = io.BytesIO()
    assert mask_bytes(io.BytesIO(_RAW), out) == 3
    assert out.getvalue() == _MASKED


def test_register_adds_a_mask_subcommand():
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["mask", "--line-buffered"])
    assert args.line_buffered and callable(args.func)


_DRIVER = """
import argparse, sys
from logpilot_dagster.pii import cli
parser = argparse.ArgumentParser()
cli.register(parser.add_subparsers(dest="command", required=True))
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args))
"""


def test_mask_subcommand_streams_stdin_to_stdout():
    done = subprocess.run([sys.executable, "-c", _DRIVER, "mask"], input=_RAW, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == _MASKED


def test_logpilot_mask_command():
    """The assembled `logpilot` CLI (every area registers there) runs `mask` the same way."""
    done = subprocess.run([sys.executable, "-m", "logpilot_dagster.cli", "mask"], input=_RAW, capture_output=True,
                          timeout=300)
    if done.returncode != 0 and b"ImportError" in done.stderr:  # another area's CLI module is not there yet
        pytest.skip(done.stderr.decode(errors="replace").strip().splitlines()[-1])
    assert done.returncode == 0, done.stderr
    assert done.stdout == _MASKED
