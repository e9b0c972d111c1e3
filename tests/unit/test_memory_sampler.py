"""The benchmark's memory sampler: a process tree's peak, and which step of a run held it."""

from __future__ import annotations

import subprocess
import sys
import time

from logpilot_dagster.bench.memory import TreeMemorySampler


def test_tree_includes_children_and_root_share_is_separate():
    # The child holds ~80 MB; its parent (the shell-less python below) stays small.
    script = ("import subprocess, sys, time\n"
              "child = subprocess.Popen([sys.executable, '-c', "
              "'import time; b = bytearray(80 * 2**20); b[::4096] = b\"x\" * len(b[::4096]); time.sleep(1.5)'])\n"
              "child.wait()\n")
    process = subprocess.Popen([sys.executable, "-c", script])
    with TreeMemorySampler(process.pid) as sampler:
        process.wait(timeout=30)
    assert sampler.peak_mb >= 80
    roots = [root for _, _, root in sampler.timeline if root]
    assert roots and max(roots) / 1024 < 60  # the parent's own share does not include the child's 80 MB


def test_step_peaks_attribute_samples_to_the_step_that_was_running():
    sampler = TreeMemorySampler(root=0)
    t0 = time.monotonic()
    sampler.timeline = [(t0 + 0.1, 100 * 1024, 50 * 1024), (t0 + 1.1, 700 * 1024, 60 * 1024),
                        (t0 + 1.9, 300 * 1024, 300 * 1024), (t0 + 2.5, 200 * 1024, 200 * 1024)]
    peaks = sampler.step_peaks({"parse": t0 + 1.0, "stage": t0, "load": t0 + 1.5}, end=t0 + 3.0)
    assert peaks == {"stage": {"tree_mb": 100.0, "root_mb": 50.0},
                     "parse": {"tree_mb": 700.0, "root_mb": 60.0},
                     "load": {"tree_mb": 300.0, "root_mb": 300.0}}
