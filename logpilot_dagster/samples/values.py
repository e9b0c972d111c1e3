"""Values that fill the variable slots of sample log templates: ids, hosts, users, durations, personal data.

Every generator takes a `random.Random` and returns text, so a sample is reproducible from its seed.
Personal data comes in two forms: the real thing (an e-mail, an IP, a Luhn-valid card, an SSN) and a
harmless stand-in of the same role (a user name, a host name, `****-****-****-1234`, `***-**-1234`). The
stand-ins, like the version numbers, dates, durations, ports and request ids elsewhere, are look-alikes
that a masker must leave alone.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Callable
from itertools import accumulate

# PII kinds, named as `logpilot_dagster.pii.masking.KINDS` names them.
EMAIL, IP, CARD, SSN = "email", "ip", "cc", "ssn"

FIRST_NAMES = (
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "nina",
    "oscar", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yuki", "zoe", "arjun", "bea", "chen",
    "diego", "elif", "fatima", "goran", "hana", "ines", "jonas", "kofi", "lena", "mateo", "noor", "olga",
    "priya", "quinn", "rosa", "sven", "tariq", "uma", "vera", "wei", "ximena", "yusuf", "zara",
)
LAST_NAMES = (
    "smith", "jones", "garcia", "miller", "davis", "martinez", "lopez", "wilson", "anderson", "thomas",
    "taylor", "moore", "jackson", "martin", "lee", "perez", "thompson", "white", "harris", "clark",
    "kumar", "nguyen", "schmidt", "rossi", "novak", "kowalski", "ivanova", "tanaka", "silva", "okafor",
    "haddad", "larsen", "dubois", "muller", "yilmaz", "cohen", "ahmed", "costa", "fischer", "berg",
)
MAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.co.uk", "proton.me", "acme-corp.com", "example.org",
                "mail.de", "icloud.com", "globex.io", "initech.net")
SERVICE_USERS = ("svc_backup", "svc_deploy", "jenkins", "ansible", "root", "postgres", "www-data", "nagios")
USERS = tuple(f"{f[0]}{last}" for f in FIRST_NAMES for last in LAST_NAMES[::3]) + tuple(
    f"{f}.{last}" for f in FIRST_NAMES[::2] for last in LAST_NAMES[1::4]) + SERVICE_USERS

HOST_ROLES = ("web", "api", "db", "cache", "worker", "compute", "lb", "mq", "bastion", "search")
HOSTS = tuple(f"{role}-{n:02d}" for role in HOST_ROLES for n in range(1, 13))
CLIENT_HOST_PREFIXES = ("ws", "lt", "vpn", "pc", "mac", "kiosk")
CLIENT_HOST_DOMAINS = ("corp.acme-corp.com", "branch.acme-corp.com", "dyn.telco-net.com", "cust.isp-one.net")

API_RESOURCES = ("orders", "customers", "invoices", "products", "carts", "payments", "shipments", "users",
                 "sessions", "subscriptions", "reports", "search")
HTTP_STATUSES = (200, 201, 204, 301, 302, 304, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504)
HTTP_STATUS_WEIGHTS = (68, 5, 4, 1, 3, 4, 3, 2, 1.5, 4, 0.5, 0.7, 1, 1.5, 0.6, 0.8, 0.4)
HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
HTTP_METHOD_WEIGHTS = (70, 18, 6, 3, 3)

Gen = Callable[[random.Random], str]

_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)
_CARD_PREFIXES = ("4", "4", "4", "51", "52", "53", "54", "55", "6011", "2221")


# --- plain values -------------------------------------------------------------------------------------


def between(rng: random.Random, low: int, high: int) -> int:
    """`rng.randint(low, high)` at a fraction of the cost (this runs several times per line)."""
    return low + int(rng.random() * (high - low + 1))


def hex_id(rng: random.Random, digits: int = 32) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def uuid4(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def user(rng: random.Random) -> str:
    return USERS[int(rng.random() * len(USERS))]


def host(rng: random.Random) -> str:
    return HOSTS[int(rng.random() * len(HOSTS))]


def fqdn(rng: random.Random) -> str:
    return f"{host(rng)}.prod.acme-corp.internal"


def fqdn_port(rng: random.Random) -> str:
    role = rng.choice((("db", 5432), ("db", 3306), ("cache", 6379), ("mq", 5672), ("search", 9200),
                       ("api", 8080), ("api", 8443)))
    return f"{role[0]}-{between(rng, 1, 12):02d}.prod.acme-corp.internal:{role[1]}"


def client_host(rng: random.Random) -> str:
    return (f"{rng.choice(CLIENT_HOST_PREFIXES)}-{between(rng, 1, 9999):04d}."
            f"{rng.choice(CLIENT_HOST_DOMAINS)}")


def port(rng: random.Random) -> str:
    return str(between(rng, 1024, 65535))


def weighted(options: tuple[str, ...], weights: tuple[float, ...]) -> Gen:
    """A generator that picks one of `options` by weight (one `random()` call, no list building)."""
    cumulative = tuple(accumulate(weights))
    total = cumulative[-1]
    return lambda rng: options[bisect_right(cumulative, rng.random() * total)]


http_status = weighted(tuple(map(str, HTTP_STATUSES)), HTTP_STATUS_WEIGHTS)
http_method = weighted(HTTP_METHODS, HTTP_METHOD_WEIGHTS)


def api_path(rng: random.Random) -> str:
    resource = API_RESOURCES[int(rng.random() * len(API_RESOURCES))]
    r = rng.random()
    if r < 0.55:
        return f"/api/v2/{resource}/{between(rng, 1000, 999999)}"
    if r < 0.8:
        return f"/api/v2/{resource}?page={between(rng, 1, 40)}&limit={rng.choice((20, 50, 100))}"
    if r < 0.9:
        return f"/api/v2/{resource}/{uuid4(rng)}/items"
    return f"/api/v2/{resource}"


def api_path_v1(rng: random.Random) -> str:
    return f"/api/v1/{rng.choice(API_RESOURCES)}"


def duration_ms(rng: random.Random) -> str:
    return f"{int(rng.lognormvariate(3.3, 1.1)) + 1}ms"


def duration_s(rng: random.Random) -> str:
    return f"{rng.lognormvariate(0.8, 1.0):.2f}s"


def seconds(rng: random.Random) -> str:
    return f"{rng.lognormvariate(0.2, 1.0):.2f}"


def wsgi_time(rng: random.Random) -> str:
    return f"{rng.lognormvariate(-1.8, 0.9):.7f}"


def uptime(rng: random.Random) -> str:
    """Seconds since boot as the kernel prints them, padded: `[ 8123.457812]`."""
    return f"{rng.uniform(5, 9_000_000):12.6f}"


def percent(rng: random.Random) -> str:
    return f"{rng.uniform(55, 99.5):.1f}%"


def version(rng: random.Random) -> str:
    return f"{between(rng, 1, 9)}.{between(rng, 0, 24)}.{between(rng, 0, 15)}"


def date(rng: random.Random) -> str:
    return f"{rng.choice((2025, 2026, 2027))}-{between(rng, 1, 12):02d}-{between(rng, 1, 28):02d}"


def amount(rng: random.Random) -> str:
    return f"{rng.lognormvariate(4.2, 1.2):.2f}"


def amount_grouped(rng: random.Random) -> str:
    """With thousands separators: a comma that a CSV writer must quote."""
    return f"{rng.lognormvariate(7.0, 1.0):,.2f}"


def hex8(rng: random.Random) -> str:
    return hex_id(rng, 8)


def hex10(rng: random.Random) -> str:
    return hex_id(rng, 10).upper()


def pid(rng: random.Random) -> str:
    return str(between(rng, 300, 65000))


def order_id(rng: random.Random) -> str:
    return f"ORD-{between(rng, 100000, 9999999)}"


def invoice_id(rng: random.Random) -> str:
    return f"INV-{between(rng, 2025, 2026)}-{between(rng, 1, 999999):06d}"


def customer_id(rng: random.Random) -> str:
    return f"CUST-{between(rng, 1, 999999):06d}"


def account_id(rng: random.Random) -> str:
    return f"ACC{between(rng, 10000, 99999)}"


def employee_id(rng: random.Random) -> str:
    return f"E{between(rng, 10000, 99999)}"


def ticket_id(rng: random.Random) -> str:
    return str(between(rng, 1000, 99999))


def file_path(rng: random.Random) -> str:
    return f"/var/lib/nova/instances/{uuid4(rng)}/disk"


def b64(rng: random.Random, n: int = 43) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return "".join(alphabet[int(rng.random() * 64)] for _ in range(n))


# --- personal data and its stand-ins -------------------------------------------------------------------


def email(rng: random.Random) -> str:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    local = rng.choice((f"{first}.{last}", f"{first[0]}{last}", f"{first}{between(rng, 1, 99)}",
                        f"{first}_{last}", f"{last}.{first}+news"))
    return f"{local}@{rng.choice(MAIL_DOMAINS)}"


def ipv4(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.3:
        return f"10.{between(rng, 0, 255)}.{between(rng, 0, 255)}.{between(rng, 1, 254)}"
    if r < 0.4:
        return f"192.168.{between(rng, 0, 255)}.{between(rng, 1, 254)}"
    if r < 0.45:
        return f"172.{between(rng, 16, 31)}.{between(rng, 0, 255)}.{between(rng, 1, 254)}"
    first = rng.choice((23, 31, 45, 62, 77, 81, 89, 91, 103, 112, 138, 151, 176, 185, 193, 203, 212, 217))
    return f"{first}.{between(rng, 0, 255)}.{between(rng, 0, 255)}.{between(rng, 1, 254)}"


def ipv6(rng: random.Random) -> str:
    prefix = rng.choice(("2001:db8", "2a02:8108", "2600:1f18", "2406:da14"))
    groups = [f"{rng.getrandbits(16):x}" for _ in range(6)]
    if rng.random() < 0.3:  # the compressed form most logs print
        return f"{prefix}:{groups[0]}::{groups[4]}:{groups[5]}"
    return ":".join([prefix, *groups])


def ip_address(rng: random.Random) -> str:
    return ipv6(rng) if rng.random() < 0.1 else ipv4(rng)


def luhn_check_digit(partial: str) -> str:
    """The digit that makes `partial + digit` pass the Luhn checksum."""
    total = 0
    for position, char in enumerate(reversed(partial)):
        value = ord(char) - 48
        total += value if position & 1 else _LUHN_DOUBLED[value]
    return str((10 - total % 10) % 10)


def card_number(rng: random.Random) -> str:
    """A 16-digit card number that passes Luhn, printed in groups of four with spaces or dashes."""
    prefix = rng.choice(_CARD_PREFIXES)
    body = prefix + "".join(str(int(rng.random() * 10)) for _ in range(15 - len(prefix)))
    digits = body + luhn_check_digit(body)
    sep = " " if rng.random() < 0.5 else "-"
    return sep.join(digits[i:i + 4] for i in range(0, 16, 4))


def masked_card(rng: random.Random) -> str:
    return f"****-****-****-{between(rng, 0, 9999):04d}"


def ssn(rng: random.Random) -> str:
    """A US SSN with an issued area (001-899 except 666), group and serial."""
    area = between(rng, 1, 898)
    if area >= 666:
        area += 1
    return f"{area:03d}-{between(rng, 1, 99):02d}-{between(rng, 1, 9999):04d}"


def masked_ssn(rng: random.Random) -> str:
    return f"***-**-{between(rng, 1, 9999):04d}"


# Slots that hold personal data in some records: (kind, real value, stand-in).
PII_SLOTS: dict[str, tuple[str, Gen, Gen]] = {
    "email": (EMAIL, email, user),
    "client": (IP, ip_address, client_host),
    "card": (CARD, card_number, masked_card),
    "ssn": (SSN, ssn, masked_ssn),
}

# Slots without personal data. `int` and `pick` take an argument: `{int:1-500}`, `{pick:a|b|c}`.
PLAIN_SLOTS: dict[str, Gen] = {
    "uuid": uuid4, "hex32": hex_id, "hex8": hex8, "hex10": hex10, "user": user, "host": host,
    "fqdn": fqdn, "fqdn_port": fqdn_port, "port": port, "status": http_status, "method": http_method,
    "api_path": api_path, "api_path_v1": api_path_v1, "ms": duration_ms, "dur": duration_s, "sec": seconds,
    "wsgi_time": wsgi_time, "uptime": uptime, "pct": percent, "version": version, "date": date,
    "amount": amount,
    "amount_grouped": amount_grouped, "pid": pid, "order": order_id, "invoice": invoice_id,
    "customer": customer_id, "account": account_id, "employee": employee_id, "ticket": ticket_id,
    "file_path": file_path, "b64": b64,
}


def int_range(arg: str) -> Gen:
    low, high = (int(x) for x in arg.split("-"))
    span = high - low + 1
    return lambda rng: str(low + int(rng.random() * span))


def pick(arg: str) -> Gen:
    options = tuple(arg.split("|"))
    return lambda rng: options[int(rng.random() * len(options))]


SLOT_FACTORIES: dict[str, Callable[[str], Gen]] = {"int": int_range, "pick": pick}
