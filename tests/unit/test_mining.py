"""The miner's contract: ids, templates, params, PII tokens, multi-line messages, persistence."""

from __future__ import annotations

import json

import pytest

from logpilot_dagster.mining import LineMatch, LogMiner, MinerConfig, TemplateInfo
from logpilot_dagster.mining.persistence import STATE_FILE

LOGINS = [f"Accepted password for user{i} from 10.0.{i}.7 port {4000 + i} ssh2" for i in range(20)]
DISK = [f"Disk /dev/sd{c}1 is {p}% full" for c, p in zip("abcde", (91, 92, 95, 97, 99), strict=True)]


def test_mine_groups_one_event_with_params_in_order():
    matches = LogMiner().mine("sshd", LOGINS)
    assert all(isinstance(m, LineMatch) for m in matches)
    assert len({m.template_id for m in matches}) == 1
    assert matches[0].template_id.startswith("sshd:")
    assert matches[0].template == "Accepted password for <*> from <*> port <*> ssh2"
    assert matches[3].params == ["user3", "10.0.3.7", "4003"]


def test_template_keeps_original_spacing():
    matches = LogMiner().mine("app", ["job  42 done", "job  43 done"])
    assert matches[0].template == "job  <*> done"


def test_masked_pii_tokens_are_variables():
    messages = ["mail to <EMAIL_REDACTED> failed from <IP_REDACTED>",
                "mail to bob@example.com failed from 10.1.1.1",
                "card <CC_REDACTED> and ssn <SSN_REDACTED> rejected",
                "card <CC_REDACTED> and ssn <SSN_REDACTED> rejected"]
    matches = LogMiner().mine("mail", messages)
    assert matches[0].template_id == matches[1].template_id
    assert matches[0].template == "mail to <*> failed from <*>"
    assert matches[0].params == ["<EMAIL_REDACTED>", "<IP_REDACTED>"]
    assert matches[2].template == "card <*> and ssn <*> rejected"


def test_multiline_message_templates_first_line_and_keeps_rest_as_param():
    trace_a = "NullPointerException: boom\n\tat a.B.c(B.java:10)\n\tat a.D.e(D.java:20)"
    trace_b = "NullPointerException: boom\n\tat x.Y.z(Y.java:1)"
    matches = LogMiner().mine("java", [trace_a, trace_b])
    assert matches[0].template_id == matches[1].template_id
    assert matches[0].template == "NullPointerException: boom\n<*>"
    assert matches[0].params == ["\tat a.B.c(B.java:10)\n\tat a.D.e(D.java:20)"]


def test_empty_input_and_empty_message():
    miner = LogMiner()
    assert miner.mine("app", []) == []
    assert miner.match("other", []) == []
    assert miner.templates() == []
    matches = miner.mine("app", ["", ""])
    assert matches[0].template == "" and matches[0].params == []


def test_ids_stable_across_save_load_and_further_learning(tmp_path):
    miner = LogMiner()
    first = miner.mine("sshd", LOGINS[:10] + DISK)
    miner.save(tmp_path)
    loaded = LogMiner.load(tmp_path)
    assert [m.template_id for m in loaded.match("sshd", LOGINS[:10] + DISK)] == [m.template_id for m in first]
    loaded.learn("sshd", LOGINS[10:] + ["Connection closed by 10.9.9.9 port 22", "Server listening on 0.0.0.0"])
    again = loaded.match("sshd", LOGINS[:10] + DISK)
    assert [m.template_id for m in again] == [m.template_id for m in first]
    assert {t.template_id for t in miner.templates()} <= {t.template_id for t in loaded.templates()}


def test_the_saved_state_is_created_under_the_umask_and_no_temporary_is_left(tmp_path):
    import os

    miner = LogMiner()
    miner.mine("sshd", LOGINS[:10])
    umask = os.umask(0o022)
    try:
        miner.save(tmp_path)
    finally:
        os.umask(umask)
    (state,) = tmp_path.iterdir()  # readable by the API and by runs as other users of the group
    assert state.stat().st_mode & 0o777 == 0o644


def test_a_save_reuses_the_state_of_sources_that_did_not_learn_and_writes_what_a_full_save_writes(tmp_path):
    miner = LogMiner()
    miner.learn("sshd", LOGINS[:10])
    miner.learn("disk", DISK)
    miner.save(tmp_path / "first")
    loaded = LogMiner.load(tmp_path / "first")
    loaded.learn("sshd", LOGINS[10:] + ["Connection closed by 10.9.9.9 port 22"])
    loaded.save(tmp_path / "cached")
    assert set(loaded._states) == {"sshd", "disk"}  # both serialised or kept, "disk" as loaded
    loaded._states.clear()
    loaded.save(tmp_path / "full")
    cached, full = ((tmp_path / name / STATE_FILE).read_text() for name in ("cached", "full"))
    assert json.loads(cached) == json.loads(full)
    assert json.loads(cached)["sources"]["sshd"] != json.loads((tmp_path / "first" / STATE_FILE).read_text())[
        "sources"]["sshd"]  # the source that learned was saved again


def test_match_is_read_only_and_unseen_messages_get_reserved_id(tmp_path):
    miner = LogMiner()
    miner.learn("app", DISK)
    before = miner.templates("app")
    matches = miner.match("app", ["completely different wording here", DISK[0]])
    assert matches[0].template_id == "app:0"
    assert matches[0].template == "completely different wording here"
    assert matches[1].params == ["/dev/sda1", "91%"]
    assert miner.templates("app") == before


def test_templates_and_sources():
    miner = LogMiner()
    miner.learn("b", DISK)
    miner.learn("a", LOGINS)
    miner.learn("a", LOGINS[:5])
    assert miner.sources() == ["a", "b"]
    infos = miner.templates("a")
    assert len(infos) == 1 and isinstance(infos[0], TemplateInfo)
    assert infos[0].count == 25 and infos[0].source == "a" and infos[0].example == LOGINS[0]
    assert len(miner.templates()) == 2


def test_load_missing_folder_is_empty_and_unknown_version_fails(tmp_path):
    assert LogMiner.load(tmp_path / "absent").sources() == []
    miner = LogMiner(MinerConfig(sim_th=0.8))
    miner.learn("app", DISK)
    miner.save(tmp_path)
    assert LogMiner.load(tmp_path).config.sim_th == 0.8
    assert not [p for p in tmp_path.iterdir() if p.name != STATE_FILE]  # no temp files left behind
    document = json.loads((tmp_path / STATE_FILE).read_text())
    document["format_version"] = 999
    (tmp_path / STATE_FILE).write_text(json.dumps(document))
    with pytest.raises(ValueError, match="format version 999"):
        LogMiner.load(tmp_path)
    document["format_version"] = True  # equals 1 in Python, but is not a version
    (tmp_path / STATE_FILE).write_text(json.dumps(document))
    with pytest.raises(ValueError, match="format version True"):
        LogMiner.load(tmp_path)


def test_sources_are_independent():
    miner = LogMiner()
    a = miner.mine("a", DISK)
    b = miner.mine("b", DISK)
    assert a[0].template_id.split(":")[0] == "a" and b[0].template_id.split(":")[0] == "b"
    assert a[0].template == b[0].template


def test_version_1_state_still_loads(tmp_path):
    miner = LogMiner()
    before = miner.mine("app", DISK)
    miner.save(tmp_path)
    document = json.loads((tmp_path / STATE_FILE).read_text())
    assert document["format_version"] == 2
    document["format_version"] = 1  # version 1 had no key counts
    for source in document["sources"].values():
        del source["key_values"]
    (tmp_path / STATE_FILE).write_text(json.dumps(document))
    after = LogMiner.load(tmp_path).match("app", DISK)
    assert [m.template_id for m in after] == [m.template_id for m in before]


def test_mine_partitions_runs_in_a_child_and_its_errors_reach_the_caller(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from logpilot_dagster.bootstrap.steps import mine as mine_partitions
    from logpilot_dagster.store.layout import HomeLayout

    layout = HomeLayout(tmp_path)
    key = "nova/api.log"
    staged = layout.staged_file(key)
    staged.parent.mkdir(parents=True)
    messages = [f"GET /v2/servers/{i} status: 200 len: {i * 7}" for i in range(50)]
    pq.write_table(pa.table({"source": ["nova"] * 50, "message": messages}), staged)

    result = mine_partitions(layout, [key])  # the child's result comes back whole
    assert (result.messages, result.mined_partitions) == (50, [key])
    assert [t.count for t in LogMiner.load(layout.miner).templates()] == [50]
    assert mine_partitions(layout, [key]).messages == 0  # the ledger the child wrote is honoured

    document = json.loads((layout.miner / STATE_FILE).read_text())
    document["format_version"] = 999
    (layout.miner / STATE_FILE).write_text(json.dumps(document))
    with pytest.raises(ValueError, match="format version 999"):
        mine_partitions(layout, [key])


def test_an_in_process_map_drops_what_its_initializer_loaded():
    """One partition (or one worker) is parsed in the caller's process: it must not keep the loaded miner."""
    from logpilot_dagster.bootstrap import pool

    def load(value):
        pool.worker_state["miner"] = value

    def use(item):
        if item == "bad":
            raise ValueError("bad partition")
        return pool.worker_state["miner"], item

    assert pool.pool_map(use, ["a"], workers=4, initializer=load, initargs=("miner",)) == [("miner", "a")]
    assert pool.worker_state == {}
    with pytest.raises(ValueError, match="bad partition"):
        pool.pool_map(use, ["bad"], workers=1, initializer=load, initargs=("miner",))
    assert pool.worker_state == {}
