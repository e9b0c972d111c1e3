"""Freshness through Dagster: a real `dagster-daemon` with default settings runs `live_ingest_sensor`, which asks
for one `live_ingest_job` run per batch; a record appended to the folder stream is polled for in `logs` through
read-only connections, as `bench.live.freshness` does with `logpilot live`. Measured on a bootstrapped throw-away
home, with a fresh DAGSTER_HOME under it; the daemon and every run it launched are stopped at the end.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from logpilot_dagster.store import tables
from logpilot_dagster.store.layout import HomeLayout

ROOT = Path(__file__).resolve().parents[2]
WORKSPACE = ROOT / "workspace.yaml"
DAEMON = Path(sys.executable).parent / "dagster-daemon"
SOURCE = "bench"


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def _stop(daemon: subprocess.Popen, log: Callable[[str], None]) -> list[str]:
    """SIGTERM the daemon, then its whole process group (its code server, the runs it launched), then SIGKILL
    whatever is left; returns the processes of its session still alive afterwards (should be none)."""
    group = daemon.pid  # started with start_new_session: the group and the session are its own
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            log("dagster-daemon did not stop within 60 s of SIGTERM: killing it")
    for sig, wait_s in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and _session(group):
            time.sleep(0.2)
        if not _session(group):
            break
    if daemon.poll() is None:
        daemon.kill()
    daemon.wait(timeout=10)
    return _session(group)


def _session(sid: int) -> list[str]:
    out = subprocess.run(["ps", "-e", "-o", "sid=,pid=,stat=,args="], capture_output=True, text=True).stdout
    alive = []
    for line in out.splitlines():
        fields = line.split(None, 3)
        if len(fields) >= 3 and fields[0] == str(sid) and not fields[2].startswith("Z"):
            alive.append(line.strip())
    return alive


def _wait_for_sensor(daemon: subprocess.Popen, dagster_home: Path, deadline: float) -> float:
    from logpilot_dagster.jobs.instance import open_instance, sensor_ticked

    began = time.monotonic()
    with open_instance(dagster_home) as instance:
        while time.monotonic() < deadline:
            if daemon.poll() is not None:
                raise RuntimeError(f"dagster-daemon exited with {daemon.returncode} before the sensor ticked")
            if sensor_ticked(instance, "live_ingest_sensor"):
                return time.monotonic() - began
            time.sleep(1)
    raise TimeoutError("live_ingest_sensor did not tick before the start-up deadline")


def sensor_freshness(layout: HomeLayout, samples: int, log: Callable[[str], None] = _stderr, seed: int = 17,
                     sample_timeout_s: float = 180, max_gap_s: float = 15, overall_s: float | None = None) -> dict:
    """Append one record at a time to the folder stream, a random 0–`max_gap_s` apart (seeded) so the samples
    spread over the sensor's tick phase; each one's append → queryable in `logs`, waited for at most
    `sample_timeout_s`; all of it within `overall_s` (default: a minute a sample, plus five)."""
    from logpilot_dagster.bench.live import _env
    from logpilot_dagster.jobs.instance import prepare, run_summary
    from logpilot_dagster.jobs.live import SENSOR_INTERVAL_S
    from logpilot_dagster.live.folder import FolderStream

    dagster_home = prepare(layout, layout.home / "dagster_home")
    overall = overall_s if overall_s is not None else 60 * samples + 300
    rng = random.Random(seed)
    stream = FolderStream(layout.live)
    latencies: list[float] = []
    attempted, startup, error = 0, None, None
    daemon_log = (dagster_home / "daemon.log").open("w")
    daemon = subprocess.Popen([str(DAEMON), "run", "-w", str(WORKSPACE)], cwd=ROOT, stdout=daemon_log,
                              stderr=subprocess.STDOUT, start_new_session=True,
                              env=_env(layout, DAGSTER_HOME=str(dagster_home)))
    began = time.monotonic()
    end = began + overall
    try:
        startup = _wait_for_sensor(daemon, dagster_home, min(end, began + 300))
        log(f"sensor freshness: live_ingest_sensor ticking {startup:.0f} s after the daemon started")
        for i in range(samples):
            if time.monotonic() >= end or daemon.poll() is not None:
                error = f"stopped after {attempted} probes: " + (
                    f"dagster-daemon exited with {daemon.returncode}" if daemon.poll() is not None
                    else f"the overall bound of {overall:.0f} s passed")
                break
            time.sleep(rng.uniform(0, max_gap_s))
            marker = f"sensor freshness probe {i} {time.time_ns()}"
            stream.append([{"ts": datetime.now(UTC).isoformat(), "source": SOURCE, "message": marker}])
            sent = time.perf_counter()
            attempted += 1
            deadline = min(sent + sample_timeout_s, time.perf_counter() + end - time.monotonic())
            while time.perf_counter() < deadline:
                with tables.connect(layout.duckdb, read_only=True, timeout_s=30) as con:
                    if tables.message_stored(con, SOURCE, marker):
                        latencies.append(time.perf_counter() - sent)
                        break
                time.sleep(0.2)
            else:
                log(f"sensor freshness: probe {i} not in `logs` after {time.perf_counter() - sent:.0f} s")
                continue
            log(f"sensor freshness: probe {i} queryable after {latencies[-1]:.1f} s")
    except (RuntimeError, TimeoutError) as exc:
        error = str(exc)
    finally:
        left = _stop(daemon, log)
        daemon_log.close()
    runs, errors = run_summary(dagster_home)
    latencies.sort()

    def pct(p: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 3) if latencies else None

    return {"samples": samples, "attempted": attempted, "seen": len(latencies), "p50_s": pct(0.5),
            "p95_s": pct(0.95), "max_s": round(latencies[-1], 3) if latencies else None,
            "sensor_interval_s": SENSOR_INTERVAL_S,
            "daemon_startup_s": round(startup, 1) if startup is not None else None,
            "seconds": round(time.monotonic() - began, 1), "runs": runs, "run_errors": errors[:5],
            "left_running": left, "error": error}
