"""Id keys (`shapes.id_key`): messages that differ only in their free ids split alike, so matching may look
their shape up under one key. Checked by re-drawing every free id of real and adversarial messages."""

from __future__ import annotations

import csv
import random
import re
import string

import pytest
from support.loghub import LOGHUB
from test_mining_speed import MESSAGES

from logpilot_dagster.live.produce import sample_records
from logpilot_dagster.mining import LogMiner
from logpilot_dagster.mining.shapes import id_key, shape_keys
from logpilot_dagster.mining.tokenize import mask_message

# Tokens between the masks' ASCII delimiters, of letters, digits and `-` (the free ids of `shapes` among them).
_DELIMS = " \t\n\r\f\v,;=()\\[\\]{}\"'|<>"
_TOKEN = re.compile(f"(?<![^{_DELIMS}])[0-9A-Za-z-]+(?![^{_DELIMS}])")
_ALNUM = string.ascii_letters + string.digits * 5  # about half digits, so most draws keep two or more

ADVERSARIAL = [
    "at 2024-01-05 12:00:00 done", "at 2024-01-05 and 1234-56-78 later", "Mon Jan  1 12:00:00 2024 boot 20245",
    "eth01 up, eth1 down, ab12 and abcd1 and abcde1", "size 10240B free 99999KB", "a=ab12cd=x b=12345 c:ab123",
    'k="ab12 cd34" n=\'zz99 y\'', "see http://h/ab12cd?x=12345&y=ab12cd34 (a1b2c3d4)",
    "tok ab+cd/EF0123456789abcdefgh== end", "x: ab12cd [req-ab12cd34-1234] <ab12cd> {12ab34}",
    "v ab12cd. 12345-67-89 12:00 2024-01-05T12:00:00", "| 0x1f2e3d | 1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d |",
    "true12 false34 None56 12345ms 12345 seconds 1234567890", "-12345 --ab12- a-1-2-3 12-ab-34-cd",
    # A clock's fraction may follow a comma (log4j): the digits after it belong to the time.
    "t 12:00:00,12345 x", "evt 10:15:30,12345678,login", "at 2024-01-05 12:00:00,123456 done",
    "Mon Jan  1 12:00:00,12345 2024 boot", "n 5,12345 and 12:00,99999",
]


def _corpus() -> list[str]:
    messages = [*MESSAGES, *ADVERSARIAL]
    messages += [r["message"] for r in sample_records(3000, seed=3)]
    for structured in sorted(LOGHUB.glob("*/*_structured*.csv")):
        with structured.open(newline="", encoding="utf-8") as handle:
            messages += [row["Content"] for row in csv.DictReader(handle)][:500]
    return messages


def _redraw(message: str, rng: random.Random) -> str:
    """The message with each token that may be a free id and holds a digit drawn again: letters and digits
    at random (all digits a third of the time, so dates and numbers come up too), `-` kept."""
    def draw(token: re.Match[str]) -> str:
        if not any(c.isdigit() for c in token.group()):
            return token.group()
        pool = string.digits if rng.random() < 0.3 else _ALNUM
        return "".join(c if c == "-" else rng.choice(pool) for c in token.group())
    return _TOKEN.sub(draw, message)


def test_messages_with_equal_id_keys_split_alike():
    """Whatever the re-drawn tokens became (a date, one digit, no digit), equal id keys mean equal splits."""
    rng = random.Random(1)
    same_key = 0
    for message in _corpus():
        signature, values = mask_message(message, 2000)
        key = id_key(shape_keys([message])[0])
        for _ in range(6):
            variant = _redraw(message, rng)
            if variant == message:
                break
            if id_key(shape_keys([variant])[0]) != key:
                continue
            other_signature, other_values = mask_message(variant, 2000)
            assert (other_signature, list(map(len, other_values))) == (signature, list(map(len, values))), (
                message, variant)
            same_key += 1
    assert same_key > 1000  # the corpus has free ids to re-draw


@pytest.mark.parametrize("text", ["ab12", "abcd1", "2024-01-05", "ab12cd.", "ab12cd:", "x_ab12cd", "ab/12cd"])
def test_tokens_that_are_not_free_ids_keep_their_key(text):
    key = shape_keys([f"id {text} done"])[0]
    assert id_key(key) == key


def test_matching_through_id_keys_equals_matching_without_them(monkeypatch):
    corpus = _corpus()
    learned, plain = LogMiner(), LogMiner()
    for miner in (learned, plain):
        miner.learn("s", corpus[::2])
    rng = random.Random(2)
    probe = [_redraw(m, rng) for m in corpus] * 2  # unseen ids, each shape met twice (then cached)
    with_ids = [(m.template_id, m.template, m.params) for m in learned.match("s", probe)]
    monkeypatch.setattr("logpilot_dagster.mining.source_miner.id_key", lambda key: key)
    without = [(m.template_id, m.template, m.params) for m in plain.match("s", probe)]
    assert with_ids == without
    assert learned._sources["s"]._line_entries.keys() - plain._sources["s"]._line_entries.keys()  # ids were used
