"""The miner's fast paths give exactly what the plain per-message path gives: shapes, batched learning,
cached line entries, the plain-word guard of the masking regex."""

from __future__ import annotations

import gc
import re

import pytest

from logpilot_dagster.mining import LogMiner, MinerConfig, masks
from logpilot_dagster.mining.shapes import MAX_SHAPE_CHARS, shape_keys
from logpilot_dagster.mining.source_miner import SourceMiner
from logpilot_dagster.mining.tokenize import mask_message

MESSAGES = [
    *(f"Accepted password for user{i} from 10.0.{i}.7 port {4000 + i} ssh2" for i in range(12)),
    *(f"blk_{i * 7919} replicated to /rack{i % 3}/10.1.{i}.{i + 1}:50010 in {i}ms" for i in range(12)),
    *(f"[instance: {i:08x}-ab{i:02d}-4c2d-9e8f-0123456789{i:02x}] VM Started" for i in range(8)),
    *(f"NIFF: node {i} detected a failed connection via interface eth{i % 2}" for i in range(6)),
    *(f"session closed for user {name}" for name in ("root", "news", "cyrus")),
    *(f"user={name} logged in after {i} tries" for i, name in enumerate(("root", "news", "test"))),
    *(f"Failed at step {i}\n\tat a.B.c(B.java:{i})\n\tat d.E.f(E.java:2{i})" for i in range(4)),
    *(f"GET /v2/{i}abc/servers/detail HTTP/1.1 status: 200 len: {i}93 time: 0.{i}4" for i in range(5)),
    "payload " + " ".join(f"w{i} 12" for i in range(MAX_SHAPE_CHARS // 4)),
    "odd \x00 control 12", "odd \x00 control 34", "", "   ", "Mon Jan  1 12:00:00 2024 boot 5",
    "job  42  done", "job  43  done", "job 44 45 done", "disk 4 KB free", "disk 12 KB free",
]


def _matches(miner: LogMiner, messages: list[str]) -> list[tuple[str, str, list[str]]]:
    return [(m.template_id, m.template, m.params) for m in miner.match("s", messages)]


def _reference(miner: LogMiner, messages: list[str]) -> list[tuple[str, str, list[str]]]:
    """Every message through the masking regex and the signature's rendered template."""
    source = miner._sources["s"]
    result = []
    for message in messages:
        signature, values = mask_message(message, miner.config.max_head_chars)
        template_id, rendered = source._render(signature)
        result.append((f"s:{template_id}", rendered.template, rendered.params(values)))
    return result


def test_shape_keys_ignore_only_ascii_digits():
    a, b, c, d = shape_keys(["id 12 at 3.4", "id 98 at 7.0", "id 1 at 3.4", "ib 12 at 3.4"])
    assert a == b and a != c and a != d


def test_match_through_shapes_equals_per_message_rendering():
    miner = LogMiner()
    miner.learn("s", MESSAGES)
    first = _matches(miner, MESSAGES)  # first sighting: shapes known from learning
    second = _matches(miner, MESSAGES)  # line entries cached
    assert first == second == _reference(miner, MESSAGES)


def test_loaded_copy_matches_alike(tmp_path):
    miner = LogMiner()
    miner.learn("s", MESSAGES)
    miner.save(tmp_path)
    loaded = LogMiner.load(tmp_path)
    assert _matches(loaded, MESSAGES) == _matches(loaded, MESSAGES) == _matches(miner, MESSAGES)


@pytest.mark.parametrize("config", [MinerConfig(), MinerConfig(max_cached_signatures=5, max_cached_shapes=3),
                                    MinerConfig(max_clusters=6)])
def test_batched_learning_equals_the_message_by_message_loop(config, monkeypatch):
    batches = [MESSAGES[:30], MESSAGES * 2, MESSAGES[5:9]]
    batched = LogMiner(config)
    for batch in batches:
        batched.learn("s", batch)
    # The reference: every batch counted message by message (the loop batching replaces).
    monkeypatch.setattr(SourceMiner, "_count", SourceMiner._count_one_by_one)
    single = LogMiner(config)
    for batch in batches:
        single.learn("s", batch)
    assert batched.templates() == single.templates()
    assert _matches(batched, MESSAGES) == _matches(single, MESSAGES)


def test_learning_known_messages_keeps_ids_and_counts():
    miner = LogMiner()
    miner.learn("s", MESSAGES)
    before = _matches(miner, MESSAGES)
    miner.learn("s", MESSAGES)
    assert _matches(miner, MESSAGES) == before
    assert sum(t.count for t in miner.templates()) == 2 * len(MESSAGES)


@pytest.mark.parametrize("text", [
    "user=root x", "a:b c", "Mon Jan  1 12:00:00 2024", "true false null None", "abc:12 x", "word, next",
    "<EMAIL_REDACTED> to <IP_REDACTED>", 'key="a b" rest', "host.lan:8080 ok", "mail e@x.com now", "Wed Feb 3 10:00",
    "True,False;NULL", "a=b=c:d", "x:=y", "see http://a.b/c?d=1 now", "path /var/log/x.log: ok", "SOCKS5 eth0 up",
])
def test_plain_word_guard_splits_like_the_plain_alternation(text):
    plain = re.compile(masks._AT_TOKEN_START + "(" + "|".join(f"(?:{p})" for p in masks.VARIABLE_PATTERNS.values()) + ")")
    assert masks.VARIABLE_RE.split(text) == plain.split(text)


def test_garbage_collector_state_is_restored():
    miner = LogMiner()
    assert gc.isenabled()
    miner.mine("s", MESSAGES)
    assert gc.isenabled()
    gc.disable()
    try:
        miner.mine("s", MESSAGES)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_shape_is_cached_the_second_time_its_key_is_met_and_the_memory_stays_bounded():
    """Shapes met once (random ids in the wording) would fill the cache; they wait for a second sighting."""
    miner = LogMiner(MinerConfig(max_cached_shapes=50))
    miner.learn("s", ["warm up 1"])
    source = miner._sources["s"]
    source._shapes.clear()
    unique = [f"request {token} finished" for token in ("ab", "cd", "ef")]
    miner.match("s", unique)
    assert not source._shapes  # each met once
    miner.match("s", unique)
    assert set(source._shapes) == set(shape_keys(unique))
    assert _matches(miner, unique) == _reference(miner, unique)
    miner.match("s", [f"id {'x' * (i % 7 + 1)}{chr(97 + i % 26)} {i}" for i in range(1000)])
    assert len(source._seen_once) <= 50 and len(source._shapes) <= 50


def test_forgetting_the_derived_caches_keeps_every_match():
    miner = LogMiner()
    miner.learn("s", MESSAGES)
    before = _matches(miner, MESSAGES) + _matches(miner, MESSAGES)
    source = miner._sources["s"]
    assert source._shapes and source._line_entries and source._rendered
    miner.forget_derived()
    assert not (source._shapes or source._line_entries or source._rendered or source._seen_once)
    assert _matches(miner, MESSAGES) + _matches(miner, MESSAGES) == before
