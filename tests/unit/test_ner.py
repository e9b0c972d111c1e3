"""The spaCy KV model: tokenizer, examples derived from templates, CoNLL hand labels, training and reload."""

import pytest

from logpilot_dagster.classify.evaluation import kv_f1
from logpilot_dagster.extract.ner import (
    KVNerModel,
    blank_pipeline,
    example_from_template,
    expected_pairs,
    read_conll,
    token_class,
    train_ner,
    training_examples,
)

TEMPLATES = [
    "Accepted password for <*> from <*> port <*> ssh2",
    "request status=<*> took <*>ms user: <*>",
    "Connection closed by <*> port <*>",
    "CPU usage at <*>% on host <*>",
    "Failed to open file <*> error code <*>",
    "session opened for user <*> by uid <*>",
    "Disk quota exceeded for volume <*> used=<*> limit=<*>",
    "Job <*> finished state: <*> duration <*>",
]


def test_tokenizer_keeps_values_whole_and_splits_pairs():
    doc = blank_pipeline().make_doc("from 10.0.0.1:22 port=22, file /var/log/x.log id 0xdeadbeef at 12:00:01")
    assert [t.text for t in doc] == ["from", "10.0.0.1:22", "port", "=", "22", ",", "file", "/var/log/x.log",
                                     "id", "0xdeadbeef", "at", "12:00:01"]
    assert [token_class(t) for t in ("10.0.0.1", "0xff", "/tmp/a", "12.5ms", "2024-01-02", "Hello")] == [
        "<ip>", "<hex>", "<path>", "<num>", "<ts>", "hello"]


def test_examples_are_derived_from_template_slots():
    text, entities = example_from_template("Accepted password for <*> from <*> port <*> ssh2",
                                           ["root", "1.2.3.4", "22"])
    assert text == "Accepted password for root from 1.2.3.4 port 22 ssh2"
    labelled = [(text[s:e], label) for s, e, label in entities]
    assert labelled == [("Accepted password", "EVENT"), ("root", "VALUE"), ("1.2.3.4", "VALUE"),
                        ("port", "KEY"), ("22", "VALUE")]
    assert expected_pairs(text, entities) == {"port": "22"}
    with pytest.raises(ValueError, match="slots"):
        example_from_template("a <*>", [])


def test_conll_hand_labels(tmp_path):
    path = tmp_path / "hand.conll"
    path.write_text("Backup B-EVENT\nfailed I-EVENT\nvolume B-KEY\ndata7 B-VALUE\n\nuser B-KEY\n= O\nbob B-VALUE\n")
    (first, first_ents), (second, second_ents) = read_conll(path)
    assert first == "Backup failed volume data7"
    assert [(first[s:e], label) for s, e, label in first_ents] == [("Backup failed", "EVENT"), ("volume", "KEY"),
                                                                  ("data7", "VALUE")]
    assert expected_pairs(second, second_ents) == {"user": "bob"}
    path.write_text("x B-THING\n")
    with pytest.raises(ValueError, match="tag 'B-THING'"):
        read_conll(path)


@pytest.fixture(scope="module")
def model():
    return train_ner(training_examples(TEMPLATES, per_template=12, seed=1), iterations=10)


def test_trained_model_extracts_pairs_of_new_lines_and_reloads(model, tmp_path):
    held_out = training_examples(TEMPLATES, per_template=3, seed=7)
    predicted = model.extract([text for text, _ in held_out])
    scores = kv_f1(predicted, [expected_pairs(text, ents) for text, ents in held_out])
    assert scores["f1"] >= 0.9
    model.save(tmp_path / "ner")
    again = KVNerModel.load(tmp_path / "ner")
    assert again.extract(["Connection closed by 9.9.9.9 port 4444"]) == [{"port": "4444"}]
    assert again.metadata["examples"] == 96
