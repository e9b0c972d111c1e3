"""Write `corpus.jsonl`: log lines in many styles with every kind of personal data and every look-alike labelled.

    python benchmarks/pii_corpus/generate.py [--seed 2026] [--per-style 60]

Each record is `{"style", "line", "expected", "pii": [[kind, start, end], ...], "keep": [[family, start,
end], ...]}`: `expected` is the line with each `pii` span replaced by its kind's token, `keep` spans are
look-alikes that must stay as they are. The labels come from how each line is built, not from the
masker: values are drawn from generators of each kind and placed into templates of each log style. The
file is checked in; re-running with the same arguments writes the same bytes.

Only the value of a secret is labelled (`password=<value>`, `Authorization: Bearer <value>`, the password
of `scheme://user:password@host`), since the masker keeps the key, scheme, user and host.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import re
import string
from collections import Counter
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent

# The tokens the masker prints, written out here so the labels do not come from the code under test.
TOKENS = {
    "email": "<EMAIL_REDACTED>", "ip": "<IP_REDACTED>", "cc": "<CC_REDACTED>", "ssn": "<SSN_REDACTED>",
    "phone": "<PHONE_REDACTED>", "token": "<TOKEN_REDACTED>", "access_key": "<ACCESS_KEY_REDACTED>",
    "password": "<PASSWORD_REDACTED>",
}

Gen = Callable[[random.Random], str]
B64URL = string.ascii_letters + string.digits + "-_"
ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"


def _pick(rng: random.Random, options: tuple[str, ...] | list[str]) -> str:
    return options[rng.randrange(len(options))]


def _chars(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(alphabet[rng.randrange(len(alphabet))] for _ in range(n))


def _with_digit(rng: random.Random, alphabet: str, n: int) -> str:
    value = list(_chars(rng, alphabet, n))
    value[rng.randrange(n)] = str(rng.randrange(10))
    return "".join(value)


def _luhn_digit(partial: str) -> str:
    total = 0
    for position, char in enumerate(reversed(partial)):
        value = int(char)
        if position % 2 == 0:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return str((10 - total % 10) % 10)


# --- personal data and secrets --------------------------------------------------------------------------

FIRST = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mateo", "noor",
         "priya", "sven", "wei", "yuki", "zoe", "olga", "kofi", "ines")
LAST = ("smith", "garcia", "nguyen", "schmidt", "rossi", "novak", "tanaka", "silva", "okafor", "larsen")
DOMAINS = ("example.com", "mail.example.org", "corp.acme-corp.com", "gmail.com", "proton.me", "example.co.uk")


def email(rng: random.Random) -> str:
    first, last = _pick(rng, FIRST), _pick(rng, LAST)
    local = _pick(rng, (f"{first}.{last}", f"{first[0]}{last}", f"{first}{rng.randint(1, 99)}",
                        f"{first}_{last}", f"{first}+alerts"))
    return f"{local}@{_pick(rng, DOMAINS)}"


def ipv4(rng: random.Random) -> str:
    first = _pick(rng, ("10", "172", "192", "203", "198", "45", "81", "151", "8", "100"))
    return f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def ipv6(rng: random.Random) -> str:
    groups = [f"{rng.getrandbits(16):x}" for _ in range(8)]
    form = rng.randrange(8)
    prefix = _pick(rng, ("2001:db8", "2a02:8108", "2600:1f18", "2406:da14", "fd12:3456"))
    if form == 0:
        return ":".join(f"{int(g, 16):04x}" for g in [*prefix.split(":"), *groups[:6]])
    if form == 1:
        return ":".join([prefix, *groups[:6]])
    if form == 2:
        return f"{prefix}::{groups[0]}:{groups[1]}"
    if form == 3:
        return f"{prefix}::{rng.randint(1, 999)}"
    if form == 4:
        return f"::ffff:{ipv4(rng)}"
    if form == 5:
        return f"fe80::{groups[0]}:{groups[1]}:{groups[2]}:{rng.randint(1, 9)}{groups[3][:3]}"
    if form == 6:
        return f"{prefix}:{groups[0]}::{groups[1]}".upper()
    return "::1"


def card(rng: random.Random) -> str:
    brand = rng.randrange(4)
    if brand == 3:  # Amex: 15 digits, 4-6-5
        body = _pick(rng, ("34", "37")) + _chars(rng, "0123456789", 12)
        digits = body + _luhn_digit(body)
        sep = _pick(rng, (" ", "-", ""))
        return sep.join((digits[:4], digits[4:10], digits[10:])) if sep else digits
    prefix = _pick(rng, (("4",), ("51", "52", "53", "54", "55", "2221"), ("6011", "65"))[brand])
    body = prefix + _chars(rng, "0123456789", 15 - len(prefix))
    digits = body + _luhn_digit(body)
    sep = _pick(rng, (" ", "-", ""))
    return sep.join(digits[i:i + 4] for i in range(0, 16, 4)) if sep else digits


def ssn(rng: random.Random) -> str:
    area = rng.randint(1, 898)
    area += area >= 666
    return _pick(rng, ("-", " ")).join((f"{area:03d}", f"{rng.randint(1, 99):02d}", f"{rng.randint(1, 9999):04d}"))


def _nanp_parts(rng: random.Random) -> tuple[str, str, str]:
    area = f"{rng.randint(2, 9)}{rng.randint(0, 8)}{rng.randint(0, 9)}"
    exchange = f"{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(0, 9)}"
    return area, exchange, f"{rng.randint(0, 9999):04d}"


def phone(rng: random.Random) -> str:
    area, exchange, line = _nanp_parts(rng)
    form = rng.randrange(11)
    if form == 0:
        return f"+1 ({area}) {exchange}-{line}"
    if form == 1:
        return f"{area}-{exchange}-{line}"
    if form == 2:
        return f"({area}) {exchange}-{line}"
    if form == 3:
        return f"{area}.{exchange}.{line}"
    if form == 4:
        return f"+1{area}{exchange}{line}"
    if form == 5:
        return f"1-{area}-{exchange}-{line}"
    if form == 6:
        return f"+1-{area}-{exchange}-{line}"
    if form == 7:
        return f"+44 {rng.randint(20, 79)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"
    if form == 8:
        return f"+49 {rng.randint(30, 89)} {rng.randint(1000000, 99999999)}"
    if form == 9:
        return "+33 " + " ".join([str(rng.randint(1, 9))] + [f"{rng.randint(0, 99):02d}" for _ in range(4)])
    return f"+{_pick(rng, ('44', '49', '33', '91', '81', '61', '34'))}{rng.randint(10**8, 10**10 - 1)}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(rng: random.Random) -> str:
    header = json.dumps({"alg": _pick(rng, ("HS256", "RS256", "ES256")), "typ": "JWT"}, separators=(",", ":"))
    claims = {"sub": str(rng.randint(1000, 99999999)), "name": _pick(rng, FIRST), "iat": rng.randint(1_600_000_000, 1_800_000_000)}
    if rng.random() < 0.5:
        claims["scope"] = _pick(rng, ("read", "read write", "admin"))
    payload = json.dumps(claims, separators=(",", ":"))
    return f"{_b64url(header.encode())}.{_b64url(payload.encode())}.{_chars(rng, B64URL, 43)}"


def opaque_token(rng: random.Random) -> str:
    return _with_digit(rng, ALNUM + "-_.", rng.randint(24, 48)).strip(".-")


def basic_credential(rng: random.Random) -> str:
    return base64.b64encode(f"{_pick(rng, FIRST)}:{password(rng)}".encode()).decode()


def api_secret(rng: random.Random) -> str:
    return _with_digit(rng, ALNUM, rng.randint(32, 40))


def aws_secret(rng: random.Random) -> str:
    return _with_digit(rng, ALNUM + "/+", 40)


def access_key(rng: random.Random) -> str:
    kind = rng.randrange(7)
    if kind <= 1:
        return _pick(rng, ("AKIA", "ASIA")) + _with_digit(rng, string.ascii_uppercase + "234567", 16)
    if kind == 2:
        return "AIza" + _chars(rng, ALNUM + "-_", 35)
    if kind == 3:
        return _pick(rng, ("ghp_", "gho_", "ghs_")) + _with_digit(rng, ALNUM, 36)
    if kind == 4:
        return "glpat-" + _with_digit(rng, ALNUM + "-_", 20)
    if kind == 5:
        return f"xoxb-{rng.randint(10**10, 10**11)}-{rng.randint(10**10, 10**11)}-{_chars(rng, ALNUM, 24)}"
    return _pick(rng, ("sk_live_", "sk_test_", "rk_live_")) + _with_digit(rng, ALNUM, 24)


WORDS = ("hunter", "dragon", "sunshine", "Winter", "tr0ub4dor", "Passw0rd", "letmein", "qwerty", "Secret")


def password(rng: random.Random) -> str:
    """A password without spaces, quotes or delimiters, so it reads as one unquoted value."""
    form = rng.randrange(4)
    if form == 0:
        return f"{_pick(rng, WORDS)}{rng.randint(1, 9999)}"
    if form == 1:
        return _with_digit(rng, ALNUM + "!$%^*+-_.~", rng.randint(10, 20))
    if form == 2:
        return f"{_pick(rng, WORDS)}!{_pick(rng, WORDS).lower()}"
    return _chars(rng, string.ascii_lowercase, rng.randint(6, 10))


def spaced_password(rng: random.Random) -> str:
    return " ".join(_pick(rng, ("correct", "horse", "battery", "staple", "blue", "Moon", "42")) for _ in range(4))


def url_password(rng: random.Random) -> str:
    value = password(rng).replace("%", "")
    return value[:3] + "@" + value[3:] if rng.random() < 0.15 else value


# --- look-alikes ------------------------------------------------------------------------------------------


def uuid(rng: random.Random) -> str:
    h = _chars(rng, HEX, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_pick(rng, '89ab')}{h[17:20]}-{h[20:]}"


def md5(rng: random.Random) -> str:
    return _chars(rng, HEX, 32)


def sha1(rng: random.Random) -> str:
    return _chars(rng, HEX, 40)


def sha256(rng: random.Random) -> str:
    return _chars(rng, HEX, 64)


def short_sha(rng: random.Random) -> str:
    return _chars(rng, HEX, rng.choice((7, 8, 12)))


def blk(rng: random.Random) -> str:
    return f"blk_{_pick(rng, ('-', ''))}{rng.randint(10**17, 9 * 10**18)}"


def clock(rng: random.Random) -> str:
    form = rng.randrange(4)
    t = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
    if form == 0:
        return f"{t}.{rng.randint(0, 999):03d}"
    if form == 1:
        return f"{rng.randint(0, 23):02d}:00:00"
    if form == 2:
        return f"{t},{rng.randint(0, 999):03d}"
    return t


def duration(rng: random.Random) -> str:
    return _pick(rng, (f"{rng.randint(1, 9999)}ms", f"{rng.random() * 90:.3f}s", f"{rng.randint(1, 59)}m{rng.randint(0, 59)}s",
                       f"00:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999999):06d}"))


def port(rng: random.Random) -> str:
    return str(_pick(rng, ("22", "80", "443", "5432", "6379", "8080", "8443", "9092", "50010", str(rng.randint(1024, 65535)))))


def pid(rng: random.Random) -> str:
    return str(rng.randint(2, 4194304))


def container_id(rng: random.Random) -> str:
    return _chars(rng, HEX, _pick(rng, (64, 12)))


def luhn_invalid(rng: random.Random) -> str:
    body = str(rng.randint(2, 6)) + _chars(rng, "0123456789", 14)
    return body + str((int(_luhn_digit(body)) + rng.randint(1, 9)) % 10)


def version(rng: random.Random) -> str:
    return ".".join(str(rng.randint(0, 40)) for _ in range(rng.randint(2, 4)))


def dotted_quad_version(rng: random.Random) -> str:
    return f"{rng.randint(1, 30)}.{rng.randint(0, 20)}.{rng.randint(0, 20)}.{rng.randint(0, 9999 if rng.random() < 0.5 else 255)}"


def kernel(rng: random.Random) -> str:
    return f"{rng.randint(3, 6)}.{rng.randint(0, 19)}.{rng.randint(0, 200)}-{rng.randint(10, 1100)}{_pick(rng, ('', '-aws', '-generic', '.el8.x86_64'))}"


def date(rng: random.Random) -> str:
    y, m, d = rng.randint(2019, 2027), rng.randint(1, 12), rng.randint(1, 28)
    return _pick(rng, (f"{y}-{m:02d}-{d:02d}", f"{m:02d}/{d:02d}/{y}", f"{d:02d}.{m:02d}.{y}", f"{y}{m:02d}{d:02d}"))


def iso_timestamp(rng: random.Random) -> str:
    return f"{date_iso(rng)}T{clock(rng).replace(',', '.')}{_pick(rng, ('Z', '+00:00', '+05:30', '-0700'))}"


def date_iso(rng: random.Random) -> str:
    return f"{rng.randint(2019, 2027)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def epoch(rng: random.Random) -> str:
    seconds = rng.randint(1_500_000_000, 1_900_000_000)
    return _pick(rng, (str(seconds), f"{seconds}{rng.randint(0, 999):03d}", f"{seconds}.{rng.randint(0, 999999):06d}"))


def tz_offset(rng: random.Random) -> str:
    return _pick(rng, ("+0000", "+0100", "+0530", "-0700", "+1000", "+1300", "+0545"))


def mac(rng: random.Random) -> str:
    octets = [f"{rng.getrandbits(8):02x}" for _ in range(6)]
    form = rng.randrange(4)
    if form == 0:
        return ":".join(octets)
    if form == 1:
        return "-".join(octets).upper()
    if form == 2:
        joined = "".join(octets)
        return ".".join(joined[i:i + 4] for i in range(0, 12, 4))
    return ":".join(f"{rng.getrandbits(8):02x}" for _ in range(8))  # EUI-64 / Fibre Channel WWN


def counter(rng: random.Random) -> str:
    form = rng.randrange(5)
    if form == 0:
        return str(rng.randint(0, 10**rng.randint(1, 12)))
    if form == 1:
        return " ".join(str(rng.randint(0, 99999)) for _ in range(rng.randint(3, 7)))
    if form == 2:  # an SSN-shaped run inside a row of numbers
        return f"{rng.randint(100, 899)} {rng.randint(10, 99)} {rng.randint(1000, 9999)} {rng.randint(0, 999)}"
    if form == 3:  # a bare 10-digit number
        return str(rng.randint(2 * 10**9, 9 * 10**9))
    return f"{rng.randint(1, 999):,}"


def not_a_phone(rng: random.Random) -> str:
    """Phone-shaped, but not a NANP number: exchange or area code starting with 0 or 1."""
    return (f"{rng.randint(2, 9)}{rng.randint(0, 8)}{rng.randint(0, 9)}-{rng.randint(0, 1)}{rng.randint(0, 99):02d}"
            f"-{rng.randint(0, 9999):04d}")


def hex_literal(rng: random.Random) -> str:
    return "0x" + _chars(rng, HEX, rng.choice((8, 16)))


def b64_blob(rng: random.Random) -> str:
    return _chars(rng, ALNUM + "+/", 43)


# --- filler -----------------------------------------------------------------------------------------------

HOSTS = ("web-01", "api-07", "db-02", "worker-3", "cache-11", "ip-10-0-3-17", "node-a4")
USERS = ("alice", "bob", "svc_backup", "deploy", "root", "postgres", "jenkins", "www-data")
SERVICES = ("billing", "auth", "gateway", "orders", "scheduler", "notifier")
PATHS = ("/api/v2/orders", "/api/v1/users/42/profile", "/healthz", "/static/app.js", "/login", "/v2/servers/detail")
CLASSES = ("com.acme.billing.PaymentService", "org.apache.kafka.clients.NetworkClient",
           "com.acme.auth.TokenFilter", "org.springframework.web.servlet.DispatcherServlet")
PLAIN: dict[str, Gen] = {
    "host": lambda r: _pick(r, HOSTS), "user": lambda r: _pick(r, USERS), "svc": lambda r: _pick(r, SERVICES),
    "path": lambda r: _pick(r, PATHS), "cls": lambda r: _pick(r, CLASSES),
    "status": lambda r: _pick(r, ("200", "201", "204", "302", "401", "403", "404", "500", "503")),
    "method": lambda r: _pick(r, ("GET", "POST", "PUT", "DELETE")), "n": lambda r: str(r.randint(1, 999)),
    "size": lambda r: str(r.randint(100, 10**6)), "level": lambda r: _pick(r, ("INFO", "WARN", "ERROR", "DEBUG")),
    "mon": lambda r: _pick(r, ("Jan", "Feb", "Mar", "Nov", "Dec")), "day": lambda r: f"{r.randint(1, 28):2d}",
    "scheme": lambda r: _pick(r, ("postgres", "postgresql", "mysql", "redis", "amqp", "mongodb+srv", "https", "ftp")),
    "dbhost": lambda r: _pick(r, ("db.internal", "db-2.prod.example.net", "cache-1.prod.example.net", "rabbit.svc.cluster.local")),
    "ua": lambda r: _pick(r, ("curl/8.4.0", "python-requests/2.31.0", "okhttp/4.12.0")),
    "pod": lambda r: f"{_pick(r, SERVICES)}-{_chars(r, '0123456789abcdef', 10)}-{_chars(r, 'bcdfghjklmnpqrstvwxz2456789', 5)}",
    "ns": lambda r: _pick(r, ("default", "prod", "kube-system", "payments")),
}
PII: dict[str, Gen] = {
    "email": email, "ipv4": ipv4, "ipv6": ipv6, "card": card, "ssn": ssn, "phone": phone, "jwt": jwt,
    "opaque": opaque_token, "basic": basic_credential, "api_secret": api_secret, "aws_secret": aws_secret,
    "access_key": access_key, "password": password, "spaced_password": spaced_password, "url_password": url_password,
}
KEEP: dict[str, Gen] = {
    "uuid": uuid, "md5": md5, "sha1": sha1, "sha256": sha256, "short_sha": short_sha, "blk": blk, "clock": clock,
    "duration": duration, "port": port, "pid": pid, "container": container_id, "luhn_invalid": luhn_invalid,
    "version": version, "quad_version": dotted_quad_version, "kernel": kernel, "date": date,
    "iso_timestamp": iso_timestamp, "epoch": epoch, "tz": tz_offset, "mac": mac, "counter": counter,
    "not_a_phone": not_a_phone, "hex": hex_literal, "b64": b64_blob,
}

# Look-alike families, as the report names them.
FAMILY = {
    "uuid": "uuid", "md5": "hex_hash", "sha1": "hex_hash", "sha256": "hex_hash", "short_sha": "hex_hash",
    "blk": "hdfs_block", "clock": "time", "duration": "duration", "port": "port_pid", "pid": "port_pid",
    "container": "container_id", "luhn_invalid": "luhn_invalid", "version": "version", "quad_version": "version",
    "kernel": "version", "date": "date", "iso_timestamp": "timestamp", "epoch": "timestamp", "tz": "tz_offset",
    "mac": "mac", "counter": "number", "not_a_phone": "number", "hex": "hex_hash", "b64": "encoded",
}
# Fixed look-alike text that a template writes as a whole (a placeholder password, prose about tokens).
FIXED_FAMILY = "secret_look_alike"

_SLOT = re.compile(r"\{(?:(pii|keep|fixed):)?([a-z_0-9]+)(?::([a-z_]+))?\}|\[\[(.*?)\]\]")
PII_KIND = {"email": "email", "ipv4": "ip", "ipv6": "ip", "card": "cc", "ssn": "ssn", "phone": "phone", "jwt": "token",
            "opaque": "token", "basic": "token", "api_secret": "token", "aws_secret": "token", "access_key": "access_key",
            "password": "password", "spaced_password": "password", "url_password": "password"}

# Templates per log style. `{pii:GEN}` is personal data, `{keep:GEN}` a look-alike, `{NAME}` filler, and
# `[[text]]` fixed text that is a look-alike of a secret and must stay.
STYLES: dict[str, tuple[str, ...]] = {
    "syslog": (
        "{mon} {day} {keep:clock} {host} sshd[{keep:pid}]: Accepted password for {user} from {pii:ipv4} port {keep:port} ssh2",
        "{mon} {day} {keep:clock} {host} sshd[{keep:pid}]: [[Failed password for invalid user]] {user} from {pii:ipv6} port {keep:port} ssh2",
        "{mon} {day} {keep:clock} {host} sudo: {user} : TTY=pts/1 ; [[PWD=/home/deploy]] ; USER=root ; COMMAND=/usr/bin/psql postgres://{user}:{pii:url_password}@{dbhost}/app",
        "{mon} {day} {keep:clock} {host} kernel: [ {keep:epoch}] eth0: link up, hwaddr {keep:mac}, driver version {keep:quad_version}",
        "{mon} {day} {keep:clock} {host} kernel: Linux version {keep:kernel} (buildd@lcy02) #{n}-Ubuntu SMP",
        "{mon} {day} {keep:clock} {host} postfix/smtp[{keep:pid}]: {keep:short_sha}: to=<{pii:email}>, relay=mx.example.com[{pii:ipv4}]:25, delay={keep:duration}",
        "{mon} {day} {keep:clock} {host} CRON[{keep:pid}]: ({user}) CMD (mysqldump -u root --password={pii:password} app > /backup/{keep:date}.sql)",
        "{mon} {day} {keep:clock} {host} dhclient[{keep:pid}]: DHCPACK of {pii:ipv4} from {pii:ipv4} (xid={keep:hex})",
        "{mon} {day} {keep:clock} {host} asterisk[{keep:pid}]: call from {pii:phone} to ext {n} lasted {keep:duration}",
        "{mon} {day} {keep:clock} {host} systemd[1]: Started session {n} of user {user} (uid {keep:pid}) at {keep:iso_timestamp}",
        "{mon} {day} {keep:clock} {host} sshd[{keep:pid}]: Accepted publickey for {user} from {pii:ipv4} port {keep:port} ssh2: RSA SHA256:{keep:b64}",
        "{mon} {day} {keep:clock} {host} ntpd[{keep:pid}]: adjusting local clock by {keep:duration}, offset {keep:tz} counters {keep:counter}",
        "{mon} {day} {keep:clock} {host} payd[{keep:pid}]: chargeback card={pii:card} ssn on file {pii:ssn} ticket {keep:counter}",
        "{mon} {day} {keep:clock} {host} snmpd[{keep:pid}]: Connection from UDP: [{pii:ipv4}]:{keep:port}->[{pii:ipv4}]:161 oid 1.3.6.1.4.1.2021.{n}",
        "{mon} {day} {keep:clock} {host} smtpd[{keep:pid}]: relay smtp://{user}:{pii:url_password}@smtp.example.com:587 for {pii:email}",
    ),
    "log4j": (
        "{keep:date} {keep:clock} {level} [{svc}-exec-{n}] {cls} - Payment declined for card {pii:card} (order {keep:luhn_invalid})",
        "{keep:date} {keep:clock} {level} [main] {cls} - Connecting to jdbc:postgresql://{dbhost}:5432/app user=app [[password=********]]",
        "{keep:date} {keep:clock} {level} [http-nio-8080-exec-{n}] {cls} - Request {keep:uuid} Authorization: Bearer {pii:jwt}",
        "{keep:date} {keep:clock} {level} [http-nio-8080-exec-{n}] {cls} - User {pii:email} updated phone to {pii:phone}",
        "{keep:date} {keep:clock} {level} [pool-{n}-thread-1] {cls} - KYC check ssn={pii:ssn} result=pass took {keep:duration}",
        "{keep:date} {keep:clock} {level} [main] {cls} - Started application in {keep:duration} (JVM running for {keep:duration}) pid={keep:pid}",
        "{keep:date} {keep:clock} {level} [kafka-producer-network-thread] {cls} - [Producer clientId=producer-{n}] Connection to node {n} ({pii:ipv4}:{keep:port}) could not be established",
        "{keep:date} {keep:clock} {level} [main] {cls} - Loaded config spring.datasource.url=mysql://app:{pii:url_password}@{dbhost}:3306/app",
        "{keep:date} {keep:clock} {level} [main] {cls} - Using AWS credentials accessKeyId={pii:access_key} secretAccessKey={pii:aws_secret}",
        "{keep:date} {keep:clock} {level} [scheduler-{n}] {cls} - Job {keep:uuid} finished at {keep:iso_timestamp}, next run {keep:clock}",
        "{keep:date} {keep:clock} {level} [main] {cls} - java.lang.IllegalStateException: version {keep:quad_version} not supported, hash {keep:sha1}",
        "{keep:date} {keep:clock} {level} [http-nio-8080-exec-{n}] {cls} - [[Bearer token expired]] for session {keep:md5}",
        "{keep:date} {keep:clock} {level} [main] {cls} - Customer {{ssn={pii:ssn}, card={pii:card}, phone={pii:phone}}} saved in {keep:duration}",
        "{keep:date} {keep:clock} {level} [main] {cls} - STS credentials {{AccessKeyId: {pii:access_key}, SecretAccessKey: {pii:aws_secret}, SessionToken: {pii:opaque}}}",
        "{keep:date} {keep:clock} {level} [http-nio-8080-exec-{n}] {cls} - traceparent=00-{keep:md5}-{keep:short_sha}-01 Cookie: session={pii:jwt}",
        "\tat {cls}.process({n}.java:{keep:port}) ~[app-{keep:version}.jar:{keep:version}] [[passwordless=true]] [[pass_rate=0.98]]",
    ),
    "openstack": (
        "nova-api.log {keep:date} {keep:clock} {keep:pid} INFO nova.osapi_compute.wsgi.server [req-{keep:uuid} {keep:md5} {keep:md5} - default default] {pii:ipv4} \"GET /v2/{keep:md5}/servers/detail HTTP/1.1\" status: {status} len: {size} time: {keep:duration}",
        "nova-compute.log {keep:date} {keep:clock} {keep:pid} INFO nova.compute.manager [instance: {keep:uuid}] VM Started (Lifecycle Event) on {pii:ipv6}",
        "keystone.log {keep:date} {keep:clock} {keep:pid} WARNING keystone.common.wsgi [req-{keep:uuid}] Authorization failed. The request you have made requires authentication. from {pii:ipv4} X-Auth-Token: {pii:opaque}",
        "neutron-server.log {keep:date} {keep:clock} {keep:pid} INFO neutron.agent.dhcp [-] port {keep:uuid} mac {keep:mac} fixed_ips {pii:ipv4} {pii:ipv6}",
        "nova-compute.log {keep:date} {keep:clock} {keep:pid} INFO nova.virt.libvirt.driver [instance: {keep:uuid}] Creating image /var/lib/nova/instances/{keep:uuid}/disk",
        "glance-api.log {keep:date} {keep:clock} {keep:pid} DEBUG glance.api [req-{keep:uuid}] connecting to amqp://openstack:{pii:url_password}@{dbhost}:5672//",
        "cinder-volume.log {keep:date} {keep:clock} {keep:pid} INFO cinder.volume.manager [req-{keep:uuid}] Volume attached, wwn {keep:mac}, took {keep:duration}",
        "nova-api.log {keep:date} {keep:clock} {keep:pid} INFO nova.api [req-{keep:uuid}] user {pii:email} token={pii:opaque} project {keep:md5}",
        "nova-compute.log {keep:date} {keep:clock} {keep:pid} WARNING nova.compute.manager [req-{keep:uuid}] [instance: {keep:uuid}] metadata {{'admin_pass': '{pii:password}', 'key_name': 'ops'}} on [{pii:ipv6}]:{keep:port}",
        "keystone.log {keep:date} {keep:clock} {keep:pid} INFO keystone.token.provider [req-{keep:uuid}] [[Authorization failed for token]] {keep:md5} presented from {pii:ipv4}",
    ),
    "json": (
        '{{"ts":"{keep:iso_timestamp}","level":"info","msg":"login","user":"{pii:email}","ip":"{pii:ipv4}","request_id":"{keep:uuid}"}}',
        '{{"ts":"{keep:iso_timestamp}","level":"info","msg":"profile updated","phone":"{pii:phone}","user_id":{keep:counter}}}',
        '{{"ts":"{keep:iso_timestamp}","level":"warn","msg":"payment failed","card":"{pii:card}","amount":{n}.50,"order":"{keep:luhn_invalid}"}}',
        '{{"ts":"{keep:iso_timestamp}","level":"debug","msg":"outbound request","headers":{{"Authorization":"Bearer {pii:opaque}","User-Agent":"{ua}"}}}}',
        '{{"ts":"{keep:iso_timestamp}","level":"debug","msg":"config","db":{{"host":"{dbhost}","user":"app","password":"{pii:spaced_password}"}}}}',
        '{{"ts":"{keep:iso_timestamp}","level":"info","msg":"deploy","commit":"{keep:sha1}","image":"sha256:{keep:sha256}","version":"{keep:version}"}}',
        '{{"ts":"{keep:epoch}","level":"info","msg":"oauth callback","id_token":"{pii:jwt}","state":"{keep:md5}"}}',
        '{{"ts":"{keep:iso_timestamp}","level":"error","msg":"kyc","ssn":"{pii:ssn}","client":"{pii:ipv6}"}}',
        '{{"ts":"{keep:iso_timestamp}","level":"info","msg":"llm call","model":"gpt-x","[[max_tokens":4096]],"latency_ms":{keep:counter},"api_key":"{pii:access_key}"}}',
        '{{"ts":"{keep:iso_timestamp}","level":"info","msg":"list objects","[[next_token":"abcdef0123456789abcd"]],"count":{n},"pid":{keep:pid}}}',
        '{{"ts":"{keep:iso_timestamp}","level":"info","msg":"webhook","stripe_key":"{pii:access_key}","event":"{keep:uuid}"}}',
        '{{"ts":"{keep:iso_timestamp}","level":"info","msg":"schema","fields":{{[["password":{{"type":"string"}}]]}},"build":"{keep:short_sha}"}}',
        '{{"ts":"{keep:iso_timestamp}","level":"info","msg":"billing","customer":{{"ssn":"{pii:ssn}","card":"{pii:card}","email":"{pii:email}"}}}}',
        '{{"ts":"{keep:iso_timestamp}","level":"info","msg":"sts","Credentials":{{"AccessKeyId":"{pii:access_key}","SecretAccessKey":"{pii:aws_secret}","SessionToken":"{pii:opaque}"}}}}',
        '{{"ts":"{keep:iso_timestamp}","level":"info","msg":"replay","line":"[[token=<TOKEN_REDACTED> from <IP_REDACTED>]]","etag":"{keep:sha1}"}}',
    ),
    "apache": (
        '{pii:ipv4} - - [{day}/{mon}/2026:{keep:clock} {keep:tz}] "{method} {path}?user={pii:email} HTTP/1.1" {status} {size} "-" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{keep:quad_version} Safari/537.36"',
        '{pii:ipv6} - {user} [{day}/{mon}/2026:{keep:clock} {keep:tz}] "{method} {path} HTTP/1.1" {status} {size} "-" "{ua}"',
        '{pii:ipv4} - - [{day}/{mon}/2026:{keep:clock} {keep:tz}] "GET /reset?token={pii:opaque}&uid={keep:counter} HTTP/1.1" {status} {size}',
        '{pii:ipv4} - - [{day}/{mon}/2026:{keep:clock} {keep:tz}] "GET /login?username={user}&password={pii:password} HTTP/1.1" {status} {size}',
        "[{keep:iso_timestamp}] [core:error] [pid {keep:pid}:tid {keep:pid}] [client {pii:ipv4}:{keep:port}] AH00126: Invalid URI in request",
        "[{keep:iso_timestamp}] [auth_basic:error] [pid {keep:pid}] [client {pii:ipv6}] AH01617: user {user}: authentication failure for \"/admin\": [[Password Mismatch]]",
        "[{keep:iso_timestamp}] [proxy:error] [pid {keep:pid}] (111)Connection refused: AH00957: http: attempt to connect to {pii:ipv4}:{keep:port} failed",
        '{pii:ipv4} - - [{day}/{mon}/2026:{keep:clock} {keep:tz}] "POST /api/v2/callback HTTP/1.1" {status} {size} "-" "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Version/{keep:quad_version} Mobile/15E148"',
        '{pii:ipv4} - - [{day}/{mon}/2026:{keep:clock} {keep:tz}] "GET /checkout?cc={pii:card}&tel={pii:phone} HTTP/1.1" {status} {size}',
        '{pii:ipv6} - - [{day}/{mon}/2026:{keep:clock} {keep:tz}] "GET /api/v2/orders HTTP/1.1" {status} {size} "-" "{ua}" rt={keep:duration} uid={keep:counter}',
    ),
    "kv": (
        "time={keep:iso_timestamp} level=info msg=\"request\" method={method} path={path} remote={pii:ipv4} duration={keep:duration} request_id={keep:uuid}",
        "time={keep:iso_timestamp} level=warn msg=\"db connect\" dsn=postgres://app:{pii:url_password}@{dbhost}:5432/app?sslmode=require retry={n}",
        "time={keep:iso_timestamp} level=info msg=\"user login\" email={pii:email} phone={pii:phone} pid={keep:pid}",
        "time={keep:iso_timestamp} level=debug msg=\"auth\" api_key={pii:api_secret} client_secret={pii:api_secret} [[token_type=bearer]]",
        "time={keep:iso_timestamp} level=info msg=\"env\" PGPASSWORD={pii:password} DB_PASSWORD={pii:password} [[PWD=/srv/app]] HOME=/root",
        "time={keep:iso_timestamp} level=info msg=\"ci\" suite=unit [[pass=128]] fail=0 skipped={n} took={keep:duration} sha={keep:sha1}",
        "time={keep:iso_timestamp} level=info msg=\"aws\" aws_access_key_id={pii:access_key} aws_secret_access_key={pii:aws_secret} region=eu-west-1",
        "time={keep:iso_timestamp} level=info msg=\"card check\" pan={pii:card} bin_lookup_ms={keep:counter} ref={keep:luhn_invalid}",
        "time={keep:iso_timestamp} level=info msg=\"ssn verify\" ssn={pii:ssn} status=ok at={keep:clock}",
        "time={keep:iso_timestamp} level=info msg=\"numbers\" values=\"{keep:counter}\" ext={keep:not_a_phone} tz={keep:tz}",
        "time={keep:iso_timestamp} level=info msg=\"git\" token={pii:access_key} repo=acme/app ref={keep:short_sha}",
        "time={keep:iso_timestamp} level=info msg=\"config\" [[password=${{DB_PASSWORD}}]] passwd: {pii:password} pwd={pii:password}",
        "time={keep:iso_timestamp} level=info msg=\"tax\" ssn={pii:ssn} card_last4=1111 [[token_count=5]] [[bypass=true]] took={keep:duration}",
        "time={keep:iso_timestamp} level=info msg=\"header\" authorization=\"bearer {pii:opaque}\" [[www_authenticate=\"Bearer realm=api\"]] trace={keep:uuid}",
        "time={keep:iso_timestamp} level=info msg=\"gh\" github_pat={pii:access_key} mac={keep:mac} build={keep:kernel}",
    ),
    "hdfs": (
        "{keep:date} {keep:clock} INFO dfs.DataNode$DataXceiver: Receiving block {keep:blk} src: /{pii:ipv4}:{keep:port} dest: /{pii:ipv4}:{keep:port}",
        "{keep:date} {keep:clock} INFO dfs.DataNode$PacketResponder: PacketResponder {n} for block {keep:blk} terminating",
        "{keep:date} {keep:clock} INFO dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap updated: {pii:ipv4}:{keep:port} is added to {keep:blk} size {keep:counter}",
        "{keep:date} {keep:clock} INFO dfs.DataBlockScanner: Verification succeeded for {keep:blk}",
        "{keep:date} {keep:clock} WARN dfs.DataNode: {pii:ipv4}:{keep:port}:Got exception while serving {keep:blk} to /{pii:ipv4}:",
        "{keep:date} {keep:clock} INFO dfs.FSNamesystem: BLOCK* NameSystem.allocateBlock: /user/root/rand/_temporary/_task_{keep:epoch}_0001_m_000{n}_0/part-00{n}. {keep:blk}",
        "{keep:date} {keep:clock} INFO dfs.DataNode: Deleting block {keep:blk} file /mnt/hadoop/dfs/data/current/subdir{n}/{keep:blk}",
        "{keep:date} {keep:clock} INFO dfs.DataNode$DataXceiver: writeBlock {keep:blk} received exception java.io.IOException: Connection reset by peer [{pii:ipv6}]:{keep:port}",
    ),
    "k8s": (
        "{keep:iso_timestamp} stdout F {level} pod={ns}/{pod} container={keep:container} msg=\"started\" image=registry/app@sha256:{keep:sha256}",
        "I{keep:date} {keep:clock} {keep:pid} kubelet.go:{n}] \"SyncLoop (PLEG): event for pod\" pod=\"{ns}/{pod}\" event={{ID:{keep:uuid} Type:ContainerStarted Data:{keep:container}}}",
        "E{keep:date} {keep:clock} {keep:pid} pod_workers.go:{n}] \"Error syncing pod\" err=\"failed to pull\" podIP={pii:ipv4} hostIP={pii:ipv4}",
        "{keep:iso_timestamp} stderr F time=\"{keep:iso_timestamp}\" level=error msg=\"upstream auth failed\" authorization=\"Basic {pii:basic}\" peer={pii:ipv6}",
        "containerd[{keep:pid}]: time=\"{keep:iso_timestamp}\" level=info msg=\"shim disconnected\" id={keep:container} namespace=k8s.io",
        "{keep:iso_timestamp} stdout F {{\"level\":\"info\",\"msg\":\"sms sent\",\"to\":\"{pii:phone}\",\"sid\":\"SM{keep:md5}\"}}",
        "dockerd[{keep:pid}]: time=\"{keep:iso_timestamp}\" level=warning msg=\"env leak\" container={keep:container} GITHUB_TOKEN={pii:access_key}",
        "{keep:iso_timestamp} stdout F connecting to redis://:{pii:url_password}@{dbhost}:6379/0 as pid {keep:pid}, node v{keep:version}",
        "kube-apiserver: I{keep:date} {keep:clock} {keep:pid} httplog.go:{n}] \"HTTP\" verb=\"GET\" URI=\"/api/v1/namespaces/{ns}/pods\" latency=\"{keep:duration}\" userAgent=\"kubectl/v{keep:version}\" srcIP=\"[{pii:ipv6}]:{keep:port}\"",
        "{keep:iso_timestamp} stdout F curl -sS -H 'Authorization: Bearer {pii:jwt}' https://api.internal/{keep:uuid}",
        "{keep:iso_timestamp} stdout F {{\"level\":\"warn\",\"msg\":\"refund\",\"card\":\"{pii:card}\",\"ssn\":\"{pii:ssn}\",\"restartCount\":{n}}}",
        "{keep:iso_timestamp} stderr F env: DATABASE_URL=postgres://app:{pii:url_password}@{dbhost}/app SLACK_TOKEN={pii:access_key} HOSTNAME={pod}",
    ),
}

# Lines written out by hand: the forms named in the issue, and edge cases no template above produces.
# `{pii:KIND|value}` and `{keep:FAMILY|value}` mark spans, `[[text]]` a look-alike of a secret.
HAND: tuple[tuple[str, str], ...] = (
    ("syslog", "Nov  1 12:30:45 pbx asterisk[811]: caller {pii:phone|+1 (415) 555-0199} hung up after {keep:time|10:00:00}"),
    ("kv", "level=info msg=callback phone={pii:phone|415-555-0123} ext={keep:number|555-123-4567} port {keep:port_pid|8080} pid={keep:port_pid|4242}"),
    ("log4j", "2026-11-01 12:30:45,123 INFO [main] c.a.Api - Authorization: Bearer {pii:token|abc123def456ghi789jkl012}"),
    ("kv", "msg=connect url=postgres://user:{pii:password|pass}@host:5432/db"),
    ("kv", "msg=config password={pii:password|s3cr3t} passwd: {pii:password|hunter2} pwd={pii:password|letmein42}"),
    ("syslog", "Nov  1 12:30:45 gw radvd[77]: peer {pii:ip|2001:0db8:85a3:0000:0000:8a2e:0370:7334} via {pii:ip|fe80::1}%eth0 mapped {pii:ip|::ffff:1.2.3.4}"),
    ("log4j", "2026-11-01 12:30:45,123 WARN [pay] c.a.Pay - card {pii:cc|4111 1111 1111 1111} ssn {pii:ssn|123 45 6789} declined"),
    ("hdfs", "081109 203615 148 INFO dfs.DataBlockScanner: Verification succeeded for {keep:hdfs_block|blk_-6952295868487656571}"),
    ("hdfs", "081109 203615 148 INFO dfs.DataNode: Received block {keep:hdfs_block|blk_6952295868487656571} of size {keep:number|67108864}"),
    ("k8s", "kubelet: node ip-10-0-3-17 kernel {keep:version|5.15.0-1034-aws} runtime containerd://1.7.2 version {keep:version|10.2.3.4} agent {keep:version|v1.2.3}"),
    ("syslog", "Nov  1 12:30:45 sw1 lldpd[1]: neighbor {keep:mac|00:1a:2b:3c:4d:5e} wwn {keep:mac|50:01:43:80:12:34:56:78} in {keep:colons|std::vector<int>} {keep:colons|Foo::bar}"),
    ("json", '{"msg":"aws","key":"{pii:access_key|AKIAIOSFODNN7EXAMPLE}","uuid":"{keep:uuid|123e4567-e89b-12d3-a456-426614174000}"}'),
    ("kv", "msg=ids md5={keep:hex_hash|d41d8cd98f00b204e9800998ecf8427e} sha256={keep:hex_hash|e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855} git={keep:hex_hash|da39a3e}"),
    ("kv", "msg=numbers luhn_bad={keep:luhn_invalid|4111111111111112} epoch_ms={keep:timestamp|1700000000123} ts={keep:timestamp|2026-11-01T12:30:45.123Z} took={keep:time|12:30:45.123}"),
    ("apache", '{pii:ip|192.168.1.20} - - [01/Nov/2026:12:30:45 {keep:tz_offset|+0000}] "GET / HTTP/1.1" 200 512 "-" "Mozilla/5.0 Chrome/{keep:version|120.0.0.0} Safari/537.36"'),
    ("kv", "msg=ipv6 src_ip:{pii:ip|2001:db8::42} ip6:{pii:ip|2a02:8108:1:2::9} [{pii:ip|2001:DB8::1}]:443 {pii:ip|fe80::1ff:fe23:4567:890a}/64"),
    ("json", '{"msg":"auth","Authorization":"Basic {pii:token|dXNlcjpwYXNzd29yZA==}","password":"{pii:password|correct horse battery staple}"}'),
    ("kv", "msg=tokens access_token={pii:token|ya29.a0AfH6SMBx3k9Z} refresh_token={pii:token|1//0gLq9x2yZ8KjCgYIARAAGBASNwF} [[max_tokens=1024]] [[prompt_tokens=52]]"),
    ("kv", "msg=placeholders [[password=***]] [[password: null]] [[secret=<redacted>]] [[api_key=${API_KEY}]]"),
    ("syslog", "Nov  1 12:30:45 web sshd[99]: [[Failed password for root]] from {pii:ip|203.0.113.9} port {keep:port_pid|52211} ssh2"),
    ("kv", "msg=intl de={pii:phone|+49 30 12345678} uk={pii:phone|+44 (0)20 7946 0958} fr={pii:phone|+33 1 23 45 67 89} e164={pii:phone|+61412345678}"),
    ("kv", "msg=not-phones tz={keep:tz_offset|+0530} delta={keep:number|+12.5%} offset={keep:tz_offset|+1000} counters {keep:number|100 2048 4096} id {keep:number|4155550199}"),
    ("json", '{"msg":"slack","hook":"{pii:access_key|xoxb-123456789012-123456789012-AbCdEfGhIjKlMnOpQrStUvWx}","gh":"{pii:access_key|ghp_1234567890abcdefghijABCDEFGHIJklmnop}"}'),
    ("kv", "msg=mongo uri=mongodb+srv://admin:{pii:password|p@ss:w0rd}@cluster0.example.mongodb.net/test"),
    ("log4j", "2026-11-01 12:30:45,123 INFO [main] c.a.Boot - build {keep:version|10.0.19041.1} release {keep:version|2.14.1.0} firmware {keep:version|4.2.0.17}"),
    ("kv", "msg=containers id={keep:container_id|4f1e2d3c4b5a69788796a5b4c3d2e1f04f1e2d3c4b5a69788796a5b4c3d2e1f0} short={keep:container_id|4f1e2d3c4b5a} at {keep:time|10:00:00}"),
)


class _Line:
    def __init__(self) -> None:
        self.text = ""
        self.pii: list[list[object]] = []
        self.keep: list[list[object]] = []

    def add(self, value: str, label: list[list[object]] | None = None, name: str = "") -> None:
        if label is not None:
            label.append([name, len(self.text), len(self.text) + len(value)])
        self.text += value

    def record(self, style: str) -> dict:
        expected, last = [], 0
        for kind, start, end in self.pii:
            expected.append(self.text[last:start])
            expected.append(TOKENS[str(kind)])
            last = int(end)
        expected.append(self.text[last:])
        return {"style": style, "line": self.text, "expected": "".join(expected), "pii": self.pii, "keep": self.keep}


def _render(template: str, rng: random.Random) -> _Line:
    line = _Line()
    last = 0
    for m in _SLOT.finditer(template):
        line.add(template[last:m.start()].replace("{{", "{").replace("}}", "}"))
        role, name, fixed = m.group(1), m.group(2), m.group(4)
        if fixed is not None:
            line.add(fixed.replace("{{", "{").replace("}}", "}"), line.keep, FIXED_FAMILY)
        elif role == "pii":
            line.add(PII[name](rng), line.pii, PII_KIND[name])
        elif role == "keep":
            line.add(KEEP[name](rng), line.keep, FAMILY[name])
        else:
            line.add(PLAIN[name](rng))
        last = m.end()
    line.add(template[last:].replace("{{", "{").replace("}}", "}"))
    return line


_HAND_SLOT = re.compile(r"\{(pii|keep):([a-z_]+)\|([^}]*)\}|\[\[(.*?)\]\]")


def _hand(style: str, text: str) -> dict:
    line = _Line()
    last = 0
    for m in _HAND_SLOT.finditer(text):
        line.add(text[last:m.start()])
        if m.group(4) is not None:
            line.add(m.group(4), line.keep, FIXED_FAMILY)
        else:
            line.add(m.group(3), line.pii if m.group(1) == "pii" else line.keep, m.group(2))
        last = m.end()
    line.add(text[last:])
    return line.record(style)


def build(seed: int, per_style: int) -> list[dict]:
    rng = random.Random(seed)
    records = []
    for style, templates in STYLES.items():
        for index in range(per_style):
            records.append(_render(templates[index % len(templates)], rng).record(style))
    records.extend(_hand(style, text) for style, text in HAND)
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--per-style", type=int, default=60)
    parser.add_argument("--out", type=Path, default=HERE / "corpus.jsonl")
    args = parser.parse_args(argv)
    records = build(args.seed, args.per_style)
    with args.out.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    kinds = Counter(str(kind) for r in records for kind, _, _ in r["pii"])
    families = Counter(str(family) for r in records for family, _, _ in r["keep"])
    print(f"{len(records)} lines -> {args.out}")
    print("personal data:", dict(sorted(kinds.items())))
    print("look-alikes:", dict(sorted(families.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
