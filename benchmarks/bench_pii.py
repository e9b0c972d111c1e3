"""Throughput of personal-data masking on realistic log lines (about 5% hold personal data).

    .venv/bin/python benchmarks/bench_pii.py [--lines 200000] [--pii-share 0.05] [--repeat 5] [--seed 7]

Prints lines per second for `mask` (the best of `--repeat` passes over the same lines, so the figure is
the steady-state cost, not warm-up), by wall clock and by this process's CPU time (steadier on a busy
machine), and checks that no generated personal data survives.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid

from logpilot_dagster.pii import find_pii, mask

LEVELS = ("INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR")
SERVICES = ("api-gateway", "billing", "auth", "worker-3", "scheduler", "kafka-consumer-7", "nginx")
PATHS = ("/api/v2/orders", "/healthz", "/api/v1/users/42/profile", "/static/app.3f9a1c.js", "/metrics")


def _timestamp(rng: random.Random) -> str:
    return (f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999):03d}")


def _plain_message(rng: random.Random) -> str:
    """A message without personal data but full of look-alikes: ids, versions, durations, ports."""
    choice = rng.randrange(8)
    if choice == 0:
        return (f"request {uuid.UUID(int=rng.getrandbits(128))} {rng.choice(PATHS)} completed "
                f"status={rng.choice((200, 201, 204, 404, 500))} in {rng.randint(1, 900)}ms")
    if choice == 1:
        return f"connected to db-{rng.randint(1, 9)}.internal:{rng.choice((5432, 6379, 9092))} pool={rng.randint(1, 64)}"
    if choice == 2:
        return (f"order {rng.randint(10**9, 10**12)} charged amount={rng.randint(1, 99999) / 100:.2f} "
                f"currency=EUR txn=0x{rng.getrandbits(64):016x}")
    if choice == 3:
        return (f"starting {rng.choice(SERVICES)} v{rng.randint(1, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 99)} "
                f"python=3.11.7 build={rng.randint(1000, 9999)} ts={rng.randint(1_600_000_000, 1_800_000_000)}")
    if choice == 4:
        return (f"gc pause {rng.random() * 5:.3f}s heap={rng.randint(100, 4096)}MB "
                f"threads={rng.randint(1, 256)} uptime={rng.randint(1, 99999)}s")
    if choice == 5:
        return (f"job {rng.randint(1, 99999)} partition 2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
                f"retry {rng.randint(0, 5)}/5 next run at {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00")
    if choice == 6:
        return (f"kafka offset={rng.randint(0, 10**9)} lag={rng.randint(0, 5000)} topic=events-{rng.randint(0, 31)} "
                f"key={rng.getrandbits(32):08x} size={rng.randint(100, 10**6)}B")
    return f"cache miss for key session:{rng.getrandbits(48):012x} ttl=300s hit_ratio=0.{rng.randint(0, 999):03d}"


def _luhn_card(rng: random.Random) -> str:
    body = [4] + [rng.randrange(10) for _ in range(14)]
    total = 0
    for position, digit in enumerate(reversed(body)):
        doubled = digit * 2 if position % 2 == 0 else digit
        total += doubled - 9 if doubled > 9 else doubled
    digits = "".join(map(str, body + [(10 - total % 10) % 10]))
    return " ".join(digits[i:i + 4] for i in range(0, 16, 4)) if rng.random() < 0.5 else digits


def _pii_message(rng: random.Random) -> tuple[str, str]:
    """A message with one piece of personal data, and that piece."""
    choice = rng.randrange(4)
    if choice == 0:
        value = f"user{rng.randint(1, 99999)}@example{rng.randint(1, 9)}.com"
        return f"password reset requested by {value} via web", value
    if choice == 1:
        value = f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        return f"client {value}:{rng.randint(1024, 65535)} {rng.choice(PATHS)} {rng.randint(1, 900)}ms", value
    if choice == 2:
        value = _luhn_card(rng)
        return f"payment declined card={value} reason=insufficient_funds", value
    value = f"{rng.randint(1, 665):03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
    return f"kyc check ssn={value} result=pass", value


def build_lines(count: int, pii_share: float, seed: int) -> tuple[list[str], list[tuple[int, str]]]:
    """`count` log lines, and for the ones that hold personal data, (line index, the personal data)."""
    rng = random.Random(seed)
    lines: list[str] = []
    planted: list[tuple[int, str]] = []
    for index in range(count):
        prefix = f"{_timestamp(rng)} {rng.choice(LEVELS):5} [{rng.choice(SERVICES)}] "
        if rng.random() < pii_share:
            message, value = _pii_message(rng)
            planted.append((index, value))
        else:
            message = _plain_message(rng)
        lines.append(prefix + message + "\n")
    return lines, planted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--pii-share", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    lines, planted = build_lines(args.lines, args.pii_share, args.seed)
    best = best_cpu = float("inf")
    masked: list[str] = []
    for _ in range(args.repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        masked = [mask(line) for line in lines]
        best = min(best, time.perf_counter() - started)
        best_cpu = min(best_cpu, time.process_time() - started_cpu)

    changed = sum(1 for before, after in zip(lines, masked, strict=True) if before != after)
    survived = [index for index, value in planted if value in masked[index]]
    leftovers = sum(1 for line in masked if find_pii(line))
    mean_chars = sum(map(len, lines)) / len(lines)
    print(f"lines: {len(lines):,} (mean {mean_chars:.0f} chars), with planted personal data: {len(planted):,}")
    print(f"masked lines: {changed:,}; planted values that survived: {len(survived)}; "
          f"lines still holding personal data: {leftovers}")
    print(f"mask: {len(lines) / best:,.0f} lines/s wall, {len(lines) / best_cpu:,.0f} lines/s CPU "
          f"(best of {args.repeat}; {best * 1e6 / len(lines):.2f} us/line wall)")
    return 0 if not survived and not leftovers and changed == len(planted) else 1


if __name__ == "__main__":
    sys.exit(main())
