"""Personal-data classes beyond e-mail/IP/card/SSN, one case list per class and per look-alike family.

Each case is a line and the line as masked; a look-alike is a line that must come back unchanged.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from logpilot_dagster.pii import KINDS, TOKENS, contains_pii, find_pii, mask, mask_with_counts
from logpilot_dagster.pii.audit import scan_parquet

EMAIL, IP, CC, SSN = TOKENS["email"], TOKENS["ip"], TOKENS["cc"], TOKENS["ssn"]
PHONE, TOKEN, KEY, PASSWORD = TOKENS["phone"], TOKENS["token"], TOKENS["access_key"], TOKENS["password"]

JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ."
       "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")

CASES: dict[str, list[tuple[str, str]]] = {
    "phone": [
        ("call from +1 (415) 555-0199 ended", f"call from {PHONE} ended"),
        ("phone=415-555-0123", f"phone={PHONE}"),
        ("(415) 555-0199 and (415)555-0199", f"{PHONE} and {PHONE}"),
        ("fax 415.555.0199;", f"fax {PHONE};"),
        ("toll free 1-800-555-0199", f"toll free {PHONE}"),
        ("e164 +14155550199 sent", f"e164 {PHONE} sent"),
        ("+1-415-555-0199 x", f"{PHONE} x"),
        ("desk 415-555-0199x204", f"desk {PHONE}"),
        ("uk +44 20 7946 0958, +44 (0)20 7946 0958", f"uk {PHONE}, {PHONE}"),
        ("de +49 30 12345678 fr +33 1 23 45 67 89", f"de {PHONE} fr {PHONE}"),
        ('{"to":"+61412345678"}', f'{{"to":"{PHONE}"}}'),
        ("call me (415-555-0199)", f"call me ({PHONE})"),
    ],
    "token": [
        ("Authorization: Bearer abc123def456ghi789", f"Authorization: Bearer {TOKEN}"),
        ("authorization: bearer abc123def456ghi789", f"authorization: bearer {TOKEN}"),
        (f"-H 'Authorization: Bearer {JWT}'", f"-H 'Authorization: Bearer {TOKEN}'"),
        (f'"Authorization": "Bearer {JWT}"', f'"Authorization": "Bearer {TOKEN}"'),
        ("Proxy-Authorization: Basic dXNlcjpwYXNzd29yZA==", f"Proxy-Authorization: Basic {TOKEN}"),
        (f"session={JWT}; Path=/", f"session={TOKEN}; Path=/"),
        (f"id_token={JWT}&state=af0ifjsldkj", f"id_token={TOKEN}&state=af0ifjsldkj"),
        ("access_token=ya29.a0AfH6SMBx3k9Z refresh_token=1//0gLq9x2yZ8Kj", f"access_token={TOKEN} refresh_token={TOKEN}"),
        ("X-Auth-Token: gAAAAABk3x9Q2mZ", f"X-Auth-Token: {TOKEN}"),
        ("api_key=0123456789abcdef01234567 x-api-key: AbCdEf123456GhIj", f"api_key={TOKEN} x-api-key: {TOKEN}"),
        ("client_secret='s3cr3tV4lue99' apiKey=abcdef1234567890", f"client_secret='{TOKEN}' apiKey={TOKEN}"),
        ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", f"aws_secret_access_key={TOKEN}"),
        ('"SessionToken": "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJH"', f'"SessionToken": "{TOKEN}"'),
        ("curl -H Bearer 3f9a1c2b4d5e6f708192", f"curl -H Bearer {TOKEN}"),
    ],
    "access_key": [
        ("aws_access_key_id=AKIAIOSFODNN7EXAMPLE", f"aws_access_key_id={KEY}"),
        ('"AccessKeyId":"ASIAY34FZKBOKMUTVV7A"', f'"AccessKeyId":"{KEY}"'),
        ("key AIzaSyA1234567890abcdefghijklmnopqrstuv ok", f"key {KEY} ok"),
        ("GITHUB_TOKEN=ghp_1234567890abcdefghijABCDEFGHIJklmnop", f"GITHUB_TOKEN={KEY}"),
        ("gl glpat-AbCdEf1234567890xYz_ ok", f"gl {KEY} ok"),
        ("hook xoxb-123456789012-123456789012-AbCdEfGhIjKl", f"hook {KEY}"),
        ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", f"stripe {KEY}"),
    ],
    "password": [
        ("postgres://user:pass@host:5432/db", f"postgres://user:{PASSWORD}@host:5432/db"),
        ("redis://:s3cret@cache:6379/0", f"redis://:{PASSWORD}@cache:6379/0"),
        ("mongodb+srv://admin:p@ss:w0rd@cluster0.example.net/x", f"mongodb+srv://admin:{PASSWORD}@cluster0.example.net/x"),
        ("password=hunter2 passwd: hunter2 pwd=letmein", f"password={PASSWORD} passwd: {PASSWORD} pwd={PASSWORD}"),
        ('"password": "correct horse battery staple"', f'"password": "{PASSWORD}"'),
        ("{'password': 'hunter2', 'user': 'bob'}", f"{{'password': '{PASSWORD}', 'user': 'bob'}}"),
        ("PGPASSWORD=foo DB_PASSWORD=bar mysql --password=baz", f"PGPASSWORD={PASSWORD} DB_PASSWORD={PASSWORD} mysql --password={PASSWORD}"),
        ("GET /login?user=bob&password=Winter2024!&next=/ HTTP/1.1", f"GET /login?user=bob&password={PASSWORD}&next=/ HTTP/1.1"),
        ("user.password => 'abc123'", f"user.password => '{PASSWORD}'"),
        ("password=4111111111111111", f"password={PASSWORD}"),  # the key says what the value is
    ],
    "ipv6": [
        ("addr 2001:0db8:85a3:0000:0000:8a2e:0370:7334 ok", f"addr {IP} ok"),
        ("peer 2001:db8::1 and ::1", f"peer {IP} and {IP}"),
        ("mapped ::ffff:1.2.3.4 in", f"mapped {IP} in"),
        ("[2001:DB8::1]:443", f"[{IP}]:443"),
        ("fe80::1ff:fe23:4567:890a%eth0", f"{IP}%eth0"),
        ("src_ip:2001:db8::42 ip6:2a02:8108:1:2::9 node:fe80::1", f"src_ip:{IP} ip6:{IP} node:{IP}"),
        ('{"client":"2600:1f18:abcd::17"}', f'{{"client":"{IP}"}}'),
    ],
    "spaced": [
        ("card 4111 1111 1111 1111 declined", f"card {CC} declined"),
        ("card 4111 1111 1111 1111 123", f"card {CC} 123"),  # and a CVV
        ("ssn 123 45 6789 on file", f"ssn {SSN} on file"),
        ("ssn=123-45-6789", f"ssn={SSN}"),
    ],
}


@pytest.mark.parametrize(("text", "expected"), [case for cases in CASES.values() for case in cases],
                         ids=[f"{kind}-{i}" for kind, cases in CASES.items() for i in range(len(cases))])
def test_each_class_is_masked(text, expected):
    assert mask(text) == expected
    assert contains_pii(text)
    assert mask(expected) == expected


LOOK_ALIKES: dict[str, list[str]] = {
    "uuid": ["request 123e4567-e89b-12d3-a456-426614174000 done", "id=00000000-0000-4000-8000-000000000000"],
    "hex_hash": ["md5 d41d8cd98f00b204e9800998ecf8427e", "sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709",
                 "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "commit 4b825dc",
                 "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "txn=0xdeadbeef12345678"],
    "hdfs_block": ["Verification succeeded for blk_-6952295868487656571", "Received block blk_6952295868487656571",
                   "blk_-1608999687919862906 terminating", "file /data/blk_4111111111111111"],
    "time": ["at 12:30:45.123", "next run 10:00:00", "took 00:01:02.345678", "12:30:45,123 INFO"],
    "duration": ["took 12ms", "gc 3.512s", "uptime 3d4h12m"],
    "port_pid": ["port 8080", "pid=4242", "listening on :8443", "sshd[4194304]", "db-1.internal:5432"],
    "container_id": ["container 4f1e2d3c4b5a69788796a5b4c3d2e1f04f1e2d3c4b5a69788796a5b4c3d2e1f0",
                     "docker 4f1e2d3c4b5a exited", "id=415555019912"],
    "luhn_invalid": ["order 4111111111111112", "ref 5500000000000005", "id 4111 1111 1111 1112"],
    "version": ["version 10.2.3.4", "v1.2.3", "kernel 5.15.0-1034-aws", "Chrome/120.0.0.0 Safari/537.36",
                "Version/17.1.2.3 Mobile", "firmware_version=10.2.3.4", 'app_version: "1.2.3.4"', "build 10.0.19041.1",
                "snmp 1.3.6.1.4.1.2021", "node v17.4.6.21"],
    "timestamp": ["2026-11-01T12:30:45.123Z", "ts=1700000000", "ts_ms=1700000000123", "[01/Nov/2026:12:30:45 +0000]",
                  "20261101 123045", "Nov  1 12:30:45"],
    "tz_offset": ["tz +0000", "at +0530", "offset +1000 200 1234", "-0700"],
    "mac": ["mac 00:1a:2b:3c:4d:5e", "hw 00-1A-2B-3C-4D-5E", "cisco 001a.2b3c.4d5e", "wwn 50:01:43:80:12:34:56:78"],
    "number": ["sizes 4096 8192 16384", "counters 123 45 6789 12", "rows 4111 1111 1111 1111 2222", "id 4155550199",
               "ext 555-123-4567", "delta +12.5%", "count=1,234,567", "isbn 978-3-16-148410-0"],
    "colons": ["std::vector<int>", "Foo::bar", "a::b", "key:value a:1 b:2 c:3 d:4 e:5 f:6"],
    "secret_look_alike": [
        "Failed password for invalid user bob", "Accepted password for alice from host", "password reset requested",
        "password=*** password: null passwd=<hidden> secret=[FILTERED] api_key=${API_KEY}",
        '"password":{"type":"string"}', "PWD=/home/deploy ; USER=root", "suite pass=128 fail=0",
        "next_token=abcdef0123456789 page_token=AbC123dEf456 max_tokens=4096 prompt_tokens=52",
        "token_type=bearer Bearer token expired", 'WWW-Authenticate: Bearer realm="api"', "authorization: denied",
        "Authorization failed for token 4f3a9b2c presented", "passwordless=true bypass=1 pass_rate=0.98",
        "token=<TOKEN_REDACTED> from <IP_REDACTED>", "postgres://app@db:5432/x https://example.com:8443/a",
    ],
}


@pytest.mark.parametrize("text", [text for texts in LOOK_ALIKES.values() for text in texts],
                         ids=[f"{family}-{i}" for family, texts in LOOK_ALIKES.items() for i in range(len(texts))])
def test_look_alikes_are_kept(text):
    assert mask(text) == text, find_pii(text)
    assert not contains_pii(text)


def test_every_kind_has_a_token_and_a_count():
    assert set(TOKENS) == set(KINDS)
    text = f"a@b.io 10.0.0.1 4111111111111111 123-45-6789 415-555-0199 Bearer {JWT} AKIAIOSFODNN7EXAMPLE password=x1"
    masked, counts = mask_with_counts(text)
    assert counts == dict.fromkeys(KINDS, 1)
    assert masked == f"{EMAIL} {IP} {CC} {SSN} {PHONE} Bearer {TOKEN} {KEY} password={PASSWORD}"


def test_hostile_lines_stay_fast():
    """Inputs built to make regexes backtrack: each long line is masked quickly."""
    import time

    lines = ["password=" * 4000, "pass:" * 4000, "+1 " * 4000, "eyJaaaaaaaaaa." * 1000, "1:" * 8000,
             "(415) " * 4000, 'token:"' * 4000, "a://b:c" * 4000, "123 " * 8000, "authorization: bearer " * 2000]
    started = time.process_time()
    for line in lines:
        assert find_pii(mask(line)) == []
    assert time.process_time() - started < 2.0


def test_storage_audit_finds_the_new_kinds(tmp_path):
    raw = ["ok", "dsn postgres://app:hunter2@db/app", "call 415-555-0199", "key AKIAIOSFODNN7EXAMPLE",
           "Verification succeeded for blk_-6952295868487656571"]
    file = tmp_path / "staged.parquet"
    pq.write_table(pa.table({"message": raw}), file)
    result = scan_parquet([file])
    assert result.scanned == len(raw) and result.leak_count == 3
    assert [leak.kind for leak in result.first_leaks] == ["password", "phone", "access_key"]
    pq.write_table(pa.table({"message": [mask(line) for line in raw]}), file)
    assert scan_parquet([file]).leak_count == 0
