"""Post-mining merge: one event whose variable word no mask recognises becomes one template; events named
by a few different words stay apart."""

from __future__ import annotations

import random

from logpilot_dagster.mining import LogMiner

NAMES = [f"{first}{last}" for first in "abcdefghjk" for last in ("smith", "jones", "novak", "berg", "haddad")]


def _ids(matches):
    return {m.template_id for m in matches}


def test_many_user_names_at_one_position_are_one_template():
    rng = random.Random(1)
    lines = [f"Accepted password for {rng.choice(NAMES)} from 10.0.0.{i % 250} port {2000 + i} ssh2"
             for i in range(400)]
    matches = LogMiner().mine("syslog", lines)
    assert len(_ids(matches)) == 1
    assert matches[0].template == "Accepted password for <*> from <*> port <*> ssh2"


def test_names_at_two_positions_merge_and_stragglers_join():
    rng = random.Random(2)
    lines = [f"contact {rng.choice(NAMES)} merged into C{i} by {rng.choice(NAMES)}" for i in range(600)]
    lines.append("contact zzunique merged into C1 by yyother")
    matches = LogMiner().mine("crm", lines)
    assert len(_ids(matches)) == 1
    assert matches[-1].template == "contact <*> merged into <*> by <*>"


def test_few_event_words_stay_apart():
    lines = [f"[instance: {i:08x}-0000] VM {state} (Lifecycle Event) now"
             for i in range(200) for state in ("Started", "Stopped", "Paused", "Resumed")]
    lines += [f"{verb} request handled for tenant acme in {i} ms" for i in range(50) for verb in ("GET", "POST")]
    matches = LogMiner().mine("nova", lines)
    assert len({m.template for m in matches}) == 6


def test_identifier_like_words_and_key_words_are_variables():
    jobs = ["email-digest", "catalog-reindex", "orders-sync", "usage_rollup"]
    lines = [f"Job {job} run {i} finished ok in {i} ms" for i in range(40) for job in jobs]
    lines += [f"Leave request {i} approved by {name}" for i, name in enumerate(["aberg", "bnovak", "cjones"] * 9)]
    miner = LogMiner()
    matches = miner.mine("app", lines)
    assert len(_ids(matches[:160])) == 1
    assert len(_ids(matches[160:])) == 1


def test_merged_ids_survive_save_and_load(tmp_path):
    rng = random.Random(3)
    lines = [f"New session {i} of user {rng.choice(NAMES)}." for i in range(300)]
    miner = LogMiner()
    before = miner.mine("syslog", lines)
    miner.save(tmp_path)
    after = LogMiner.load(tmp_path).match("syslog", lines)
    assert [m.template_id for m in after] == [m.template_id for m in before]
    assert len(_ids(after)) == 1


def test_base64_key_without_digits_is_a_value():
    lines = [f"Accepted publickey for alice from 10.0.0.{i} port {i} ssh2: RSA SHA256:Ab{i}cD/eF+ghIJklMNopQRstUVwx"
             for i in range(20)]
    lines.append("Accepted publickey for alice from 10.0.0.9 port 22 ssh2: RSA SHA256:xZdoPUQgyvGk/KgXuXsTq+TzNdtBTb")
    matches = LogMiner().mine("syslog", lines)
    assert len(_ids(matches)) == 1


def _auth_failures(users: dict[str, int]) -> list[str]:
    rng = random.Random(3)
    lines = [f"authentication failure; uid=0 tty=ssh rhost=10.0.{rng.randrange(250)}.{i % 250} user={user}"
             for user, count in users.items() for i in range(count)]
    rng.shuffle(lines)
    return lines


def test_key_with_few_plain_word_values_is_a_constant():
    lines = _auth_failures({"root": 40, "guest": 12, "test": 10})
    matches = LogMiner().mine("auth", lines)
    by_user = {line.rsplit("=", 1)[1]: m for line, m in zip(lines, matches, strict=True)}
    assert len({m.template_id for m in by_user.values()}) == 3
    assert by_user["root"].template == "authentication failure; uid=<*> tty=ssh rhost=<*> user=root"
    assert len(_ids(matches)) == 3


def test_key_with_many_values_or_few_lines_stays_a_variable():
    many = _auth_failures({name: 12 for name in NAMES[:6]})  # more values than an enumeration has
    assert len(_ids(LogMiner().mine("auth", many))) == 1
    rare = _auth_failures({"root": 4, "guest": 3})  # too few lines per value to tell
    matches = LogMiner().mine("auth", rare)
    assert len(_ids(matches)) == 1 and matches[0].template.endswith("tty=<*> rhost=<*> user=<*>")


def test_key_that_once_held_a_number_stays_a_variable():
    lines = _auth_failures({"root": 30, "guest": 30}) + ["authentication failure; uid=0 tty=ssh rhost=h user=1001"]
    assert len(_ids(LogMiner().mine("auth", lines))) == 1


def test_constant_keys_survive_save_and_load(tmp_path):
    lines = _auth_failures({"root": 40, "guest": 12})
    miner = LogMiner()
    before = miner.mine("auth", lines)
    miner.save(tmp_path)
    after = LogMiner.load(tmp_path).match("auth", lines)
    assert [m.template_id for m in after] == [m.template_id for m in before]
    assert [m.template for m in after] == [m.template for m in before]


def test_spaced_unit_stays_in_template_and_varying_unit_is_a_wildcard():
    rng = random.Random(4)
    took = [f"Reading block {i} took {rng.randrange(1, 99)} ms" for i in range(30)]
    sent = [f"conn {i} closed, {rng.randrange(1, 999)} {rng.choice(['KB', 'MB', 'bytes'])} sent" for i in range(30)]
    matches = LogMiner().mine("io", took + sent)
    assert matches[0].template == "Reading block <*> took <*> ms"
    assert len(_ids(matches[:30])) == 1 and len(_ids(matches[30:])) == 1
    assert {m.template for m in matches[30:]} == {"conn <*> closed, <*> <*> sent"}
