"""A purge and the miner's owners: the purge holds the miner lock while it edits the sinks, so a live writer or
a bootstrap mining cannot save a state it read before the purge over the purged one."""

from __future__ import annotations

import threading
import time

from logpilot_dagster.cli import main
from logpilot_dagster.lifecycle import purge as purge_module
from logpilot_dagster.store import locks, sinks
from logpilot_dagster.store.layout import HomeLayout


def _recording_sinks(monkeypatch) -> list[float]:
    edited: list[float] = []
    sink = sinks.Sink("probe", "when the purge edits", lambda *_: 0, lambda *_: edited.append(time.monotonic()) or 0)
    monkeypatch.setattr(sinks, "SINKS", (sink,))
    return edited


def test_a_purge_waits_for_the_miner_lock_before_it_edits(tmp_path, monkeypatch):
    layout = HomeLayout(tmp_path)
    edited = _recording_sinks(monkeypatch)
    held, released = threading.Event(), []

    def owner() -> None:  # a live writer learning and saving
        with locks.file_lock(layout.miner_lock, 5, "the miner's state"):
            held.set()
            time.sleep(0.5)
            released.append(time.monotonic())

    thread = threading.Thread(target=owner)
    thread.start()
    held.wait(5)
    purge_module.purge(layout, "cust_qz7741")
    thread.join()
    assert edited and edited[0] >= released[0]


def test_a_purge_that_cannot_get_the_lock_says_so(tmp_path, monkeypatch, capsys):
    layout = HomeLayout(tmp_path)
    _recording_sinks(monkeypatch)
    monkeypatch.setattr(purge_module, "PURGE_WAIT_S", 0.2)
    with locks.file_lock(layout.miner_lock, 5, "the miner's state"):
        code = main(["purge", "--home", str(tmp_path), "--subject", "cust_qz7741"])
    assert code == 2
    err = capsys.readouterr().err
    assert "miner's state is held by another process" in err and "Traceback" not in err
