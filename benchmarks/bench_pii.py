"""Personal-data masking: recall and look-alikes on the labelled corpus, and throughput on realistic lines.

    .venv/bin/python benchmarks/bench_pii.py [--lines 200000] [--pii-share 0.05] [--repeat 5] [--seed 7]
                                             [--baseline-rev adf3a4c] [--json OUT]

Prints three figures. Recall: the share of labelled personal-data spans in `benchmarks/pii_corpus/corpus.jsonl`
that `find_pii` covers. Look-alikes masked: labelled look-alikes (UUIDs, hashes, block ids, versions,
times, MACs, ...) that any match touches. Speed: lines per second for `mask` over generated lines (about
5% hold personal data; the rest are full of look-alikes), the best of `--repeat` passes over the same
lines (the steady-state cost, not warm-up), by wall clock and by this process's CPU time (steadier on a
busy machine), for all lines and for the lines without personal data alone (the hot path of staging).

With git at hand, the masker of `--baseline-rev` (the one before the classes beyond e-mail/IP/card/SSN)
is loaded from the repository in the same process and timed on the same lines, interleaved, for a ratio.
"""

from __future__ import annotations

import argparse
import base64
import random
import subprocess
import sys
import time
import types
import uuid
from collections.abc import Callable
from pathlib import Path

from logpilot_dagster.bench.report import write_json_report
from logpilot_dagster.pii import find_pii, mask
from logpilot_dagster.pii.audit import read_labelled, score_labelled

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "benchmarks" / "pii_corpus" / "corpus.jsonl"
BASELINE_REV = "adf3a4ce5233cb3434faae87c36cb9b4ba0d023d"  # the last masker with four kinds

LEVELS = ("INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR")
SERVICES = ("api-gateway", "billing", "auth", "worker-3", "scheduler", "kafka-consumer-7", "nginx")
PATHS = ("/api/v2/orders", "/healthz", "/api/v1/users/42/profile", "/static/app.3f9a1c.js", "/metrics")


def _timestamp(rng: random.Random) -> str:
    return (f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999):03d}")


def _plain_message(rng: random.Random) -> str:
    """A message without personal data but full of look-alikes: ids, versions, durations, ports. One in ten
    holds the rarer look-alikes: HDFS block ids, MACs and dotted versions, container ids, secret words."""
    choice = rng.randrange(8, 12) if rng.random() < 0.1 else rng.randrange(8)
    if choice == 8:
        return (f"Verification succeeded for blk_{rng.choice(('-', ''))}{rng.randint(10**17, 9 * 10**18)} "
                f"from /data/{rng.randint(1, 12)} at {rng.randint(0, 23):02d}:00:00")
    if choice == 9:
        mac = ":".join(f"{rng.getrandbits(8):02x}" for _ in range(6))
        return (f"eth0 link up hwaddr {mac} driver version {rng.randint(1, 20)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}."
                f"{rng.randint(0, 255)} kernel 5.15.0-{rng.randint(100, 1100)}-aws")
    if choice == 10:
        return (f"container {rng.getrandbits(256):064x} started image sha256:{rng.getrandbits(256):064x} "
                f"pid={rng.randint(2, 4194304)} restarts={rng.randint(0, 9)}")
    if choice == 11:
        return (f"password reset for user{rng.randint(1, 999)} token_type=bearer next_token={_b64url(rng, 15)} "
                f"max_tokens={rng.choice((256, 1024, 4096))} tz +0000")
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


def _b64url(rng: random.Random, n: int) -> str:
    return base64.urlsafe_b64encode(rng.randbytes(n)).rstrip(b"=").decode()


def _pii_message(rng: random.Random) -> tuple[str, str]:
    """A message with one piece of personal data, and that piece (for a secret, its value)."""
    choice = rng.randrange(9)
    if choice == 4:
        value = f"{rng.randint(2, 9)}{rng.randint(0, 8)}{rng.randint(0, 9)}-{rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"
        return f"sms sent to {rng.choice(('', '+1 '))}{value} sid={rng.getrandbits(64):016x}", value
    if choice == 5:
        value = f"eyJhbGciOiJIUzI1NiJ9.{_b64url(rng, 48)}.{_b64url(rng, 32)}"
        return f"GET /api/v2/orders Authorization: Bearer {value} status=200", value
    if choice == 6:
        value = "AKIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
        return f"s3 upload aws_access_key_id={value} bucket=logs-{rng.randint(1, 9)}", value
    if choice == 7:
        value = f"Pw{rng.getrandbits(40):x}!"
        return f"connecting to postgres://app:{value}@db-{rng.randint(1, 9)}.internal:5432/app", value
    if choice == 8:
        value = f"2001:db8:{rng.getrandbits(16):x}::{rng.getrandbits(16):x}"
        return f"client [{value}]:{rng.randint(1024, 65535)} {rng.choice(PATHS)} {rng.randint(1, 900)}ms", value
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


def _baseline(rev: str) -> Callable[[str], str] | None:
    """`mask` as it was at `rev`, loaded from git into a module of its own, or None without git."""
    try:
        source = subprocess.run(["git", "show", f"{rev}:logpilot_dagster/pii/masking.py"], cwd=REPO,
                                capture_output=True, check=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    module = types.ModuleType("logpilot_bench_masking_baseline")
    sys.modules[module.__name__] = module  # its dataclass looks its module up there
    exec(compile(source, f"{rev}:masking.py", "exec"), module.__dict__)
    return module.mask


def _best_times(maskers: dict[str, Callable[[str], str]], lines: list[str], repeat: int) -> dict[str, tuple[float, float]]:
    """Best wall and CPU seconds per masker; passes interleave, so a busy moment hits every masker alike."""
    best = {name: (float("inf"), float("inf")) for name in maskers}
    for _ in range(repeat):
        for name, masker in maskers.items():
            started, started_cpu = time.perf_counter(), time.process_time()
            for line in lines:
                masker(line)
            wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--pii-share", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--baseline-rev", default=BASELINE_REV, help="git revision of the masker to compare with")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    score = score_labelled(read_labelled(args.corpus))
    print(f"corpus: {score.lines:,} lines, {score.pii_spans:,} personal-data spans, {score.look_alikes:,} look-alikes")
    print(f"recall: {score.recall:.4f} ({score.pii_masked:,}/{score.pii_spans:,} spans masked; "
          f"{score.wrong_kind} under another kind's token)")
    print(f"look-alikes masked: {score.look_alikes_masked} of {score.look_alikes:,}")
    print(f"lines masked exactly as labelled: {score.exact_lines:,}/{score.lines:,}")
    for kind, value in score.missed[:10]:
        print(f"  missed {kind}: {value!r}")
    for family, value in score.over_masked[:10]:
        print(f"  over-masked {family}: {value!r}")

    lines, planted = build_lines(args.lines, args.pii_share, args.seed)
    masked = [mask(line) for line in lines]
    changed = sum(1 for before, after in zip(lines, masked, strict=True) if before != after)
    survived = [index for index, value in planted if value in masked[index]]
    leftovers = sum(1 for line in masked if find_pii(line))
    with_pii = {index for index, _ in planted}
    clean = [line for index, line in enumerate(lines) if index not in with_pii]

    maskers: dict[str, Callable[[str], str]] = {"mask": mask}
    baseline = _baseline(args.baseline_rev)
    if baseline is not None:
        maskers["baseline"] = baseline
    best = _best_times(maskers, lines, args.repeat)
    best_clean = _best_times(maskers, clean, args.repeat)

    mean_chars = sum(map(len, lines)) / len(lines)
    print(f"lines: {len(lines):,} (mean {mean_chars:.0f} chars), with planted personal data: {len(planted):,}")
    print(f"masked lines: {changed:,}; planted values that survived: {len(survived)}; "
          f"lines still holding personal data: {leftovers}")
    speed: dict[str, dict[str, float]] = {}
    for name in maskers:
        (wall, cpu), clean_cpu = best[name], best_clean[name][1]
        speed[name] = {"lines_per_s_wall": len(lines) / wall, "lines_per_s_cpu": len(lines) / cpu,
                       "clean_lines_per_s_cpu": len(clean) / clean_cpu}
        label = "mask" if name == "mask" else f"baseline {args.baseline_rev[:7]}"
        print(f"{label}: {len(lines) / wall:,.0f} lines/s wall, {len(lines) / cpu:,.0f} lines/s CPU "
              f"(best of {args.repeat}; {wall * 1e6 / len(lines):.2f} us/line wall); "
              f"lines without personal data {len(clean) / clean_cpu:,.0f} lines/s CPU")
    if baseline is not None:
        ratio = best["baseline"][1] / best["mask"][1]
        ratio_clean = best_clean["baseline"][1] / best_clean["mask"][1]
        print(f"speed relative to the baseline (CPU): {ratio:.2f}x all lines, {ratio_clean:.2f}x lines without "
              "personal data")
    else:
        print(f"baseline {args.baseline_rev[:7]}: not available (no git or no such revision)")

    if args.json:
        write_json_report(args.json, {
            "corpus": str(args.corpus), "corpus_lines": score.lines, "pii_spans": score.pii_spans,
            "recall": score.recall, "wrong_kind": score.wrong_kind, "look_alikes": score.look_alikes,
            "look_alikes_masked": score.look_alikes_masked, "exact_lines": score.exact_lines,
            "missed": score.missed, "over_masked": score.over_masked,
            "lines": len(lines), "pii_share": args.pii_share, "repeat": args.repeat, "seed": args.seed,
            "planted": len(planted), "survived": len(survived), "leftovers": leftovers,
            "baseline_rev": args.baseline_rev if baseline is not None else None, "speed": speed,
        })
    ok = not survived and not leftovers and changed == len(planted)
    return 0 if ok and score.recall >= 0.99 and score.look_alikes_masked == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
