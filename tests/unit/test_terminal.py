"""The CLI's spinner shows on a terminal only: a pipe or a file gets nothing but the command's own output."""

import os
import pty
import subprocess
import sys

PROBE = "from logpilot_dagster.terminal import busy\nimport time\nwith busy('working hard'):\n    time.sleep(0.3)\n"


def test_busy_is_silent_on_a_pipe():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == "" and done.stdout == ""


def test_busy_shows_its_message_on_a_terminal():
    leader, follower = pty.openpty()
    done = subprocess.run([sys.executable, "-c", PROBE], stdout=subprocess.PIPE, stderr=follower, timeout=60)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert done.returncode == 0 and b"working hard" in shown
