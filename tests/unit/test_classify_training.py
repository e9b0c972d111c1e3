"""Training, versioned artifacts, evaluation and promotion (a worse model is refused)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.labelled import HashingEmbedder, labelled_lines

from logpilot_dagster.classify.evaluation import classification_report, kv_f1, promotion_decision
from logpilot_dagster.classify.examples import LabelledDataError, LLMAnswerLog, read_labelled_csv
from logpilot_dagster.classify.model import (
    LinearModel,
    LogClassifier,
    ModelError,
    ModelStore,
    resolve_model_dir,
    train_classifier,
)
from logpilot_dagster.classify.router import Classification
from logpilot_dagster.classify.training import build_training_set, held_out_split, train_and_register


def test_a_model_round_trips_through_its_folder(tmp_path):
    embedder = HashingEmbedder()
    data = labelled_lines(per_template=3)
    model = train_classifier(list(data["log_message"]), list(data["target_label"]), embedder, threshold=0.4)
    model.metrics = {"accuracy": 1.0}
    model.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "metadata.json").read_text())
    assert set(meta) >= {"labels", "metrics", "created_at", "embedder", "threshold"}
    again = LogClassifier.load(tmp_path / "m")
    assert again.labels == model.labels and again.threshold == 0.4 and again.metrics == {"accuracy": 1.0}
    messages = list(data["log_message"][:5])
    assert again.predict(messages, embedder) == model.predict(messages, embedder)


@pytest.mark.parametrize("classes", [2, 5])
def test_the_saved_weights_give_scikit_learns_probabilities(tmp_path, classes):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(classes)
    vectors = rng.normal(size=(300, 16))
    labels = np.array([f"label{i}" for i in range(classes)])[rng.integers(0, classes, 300)]
    fitted = LogisticRegression(C=10.0, max_iter=3000).fit(vectors, labels)
    LinearModel.from_estimator(fitted).save(tmp_path / "w.npz")
    served = LinearModel.read(tmp_path / "w.npz")
    probe = rng.normal(size=(50, 16)) * 3
    assert list(served.classes_) == list(fitted.classes_)
    np.testing.assert_allclose(served.predict_proba(probe), fitted.predict_proba(probe), rtol=1e-9, atol=1e-12)


def test_a_format_2_model_folder_with_a_pickled_estimator_still_loads(tmp_path):
    import joblib

    embedder = HashingEmbedder()
    data = labelled_lines(per_template=3)
    messages, labels = list(data["log_message"]), list(data["target_label"])
    model = train_classifier(messages, labels, embedder)
    from sklearn.linear_model import LogisticRegression

    fitted = LogisticRegression(C=10.0, max_iter=3000).fit(embedder.embed(messages), labels)
    (tmp_path / "v2").mkdir()
    joblib.dump(fitted, tmp_path / "v2" / "model.joblib")
    (tmp_path / "v2" / "metadata.json").write_text(json.dumps({**model.metadata(), "format_version": 2}))
    legacy = LogClassifier.load(tmp_path / "v2")
    np.testing.assert_allclose(legacy.estimator.predict_proba(embedder.embed(messages[:7])),
                               fitted.predict_proba(embedder.embed(messages[:7])), rtol=1e-5)  # float32 there
    (tmp_path / "v2" / "metadata.json").write_text(json.dumps({**model.metadata(), "format_version": 1}))
    with pytest.raises(ModelError, match="retrain it"):
        LogClassifier.load(tmp_path / "v2")


def test_serving_a_model_never_imports_scikit_learn(tmp_path):
    """Labelling processes start often (each Dagster step, each CLI call); scikit-learn would add seconds."""
    embedder = HashingEmbedder()
    data = labelled_lines(per_template=3)
    train_classifier(list(data["log_message"]), list(data["target_label"]), embedder).save(tmp_path / "m")
    script = (
        "import sys; from support.labelled import HashingEmbedder\n"
        "import logpilot_dagster.definitions\n"
        "from logpilot_dagster.classify.model import LogClassifier\n"
        f"m = LogClassifier.load({str(tmp_path / 'm')!r})\n"
        "print(m.predict(['user 12 logged in'], HashingEmbedder()))\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('sklearn', 'scipy', 'torch')))\n"
    )
    tests_dir = str(Path(__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          cwd=tests_dir, env={**os.environ, "PYTHONPATH": tests_dir})
    assert done.stdout.splitlines()[-1] == "[]"


def test_loading_something_that_is_not_a_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="not a trained model folder"):
        LogClassifier.load(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "metadata.json").write_text("{not json")
    with pytest.raises(ModelError, match="unreadable metadata.json"):
        LogClassifier.load(broken)
    (broken / "metadata.json").write_text(json.dumps({"format_version": 3, "labels": ["a", "b"]}))
    with pytest.raises(ModelError, match="no weights.npz"):
        LogClassifier.load(broken)
    (broken / "weights.npz").write_text("garbage")
    with pytest.raises(ModelError, match="unreadable weights.npz"):
        LogClassifier.load(broken)
    LinearModel(np.array(["a", "b"]), np.zeros((1, 4)), np.zeros(1)).save(broken / "weights.npz")
    with pytest.raises(ModelError, match="lacks embedder, threshold"):
        LogClassifier.load(broken)
    with pytest.raises(ModelError, match="no trained model"):
        resolve_model_dir(tmp_path)


def test_training_needs_two_labels():
    with pytest.raises(ModelError, match="at least two labels"):
        train_classifier(["a", "b"], ["Error", "Error"], HashingEmbedder())


def test_split_by_template_keeps_each_template_on_one_side():
    data = labelled_lines(per_template=5)
    train, test = held_out_split(data, test_size=0.5, seed=3, by="template")
    from logpilot_dagster.classify.keys import template_key
    assert not set(train["log_message"].map(template_key)) & set(test["log_message"].map(template_key))
    train, test = held_out_split(data, test_size=0.2, by="line")
    assert len(train) + len(test) == len(data) and set(test["target_label"]) == set(data["target_label"])


def test_first_model_is_promoted_and_a_worse_one_is_refused(tmp_path):
    embedder = HashingEmbedder()
    good = labelled_lines(per_template=8, seed=2)
    first = train_and_register(good, tmp_path / "store", embedder, seed=1)
    assert first.promoted and first.in_use == first.version_dir
    assert first.metrics["accuracy"] >= 0.95

    # Same data with most labels scrambled: evaluated on its own held-out part, it scores worse than the
    # promoted model does on that same part, so it is stored but not promoted.
    bad = good.copy()
    bad["target_label"] = bad["target_label"].sample(frac=1.0, random_state=0).to_numpy()
    second = train_and_register(bad, tmp_path / "store", embedder, seed=1)
    assert not second.promoted and "worse" in second.reason
    assert second.in_use == first.version_dir
    assert ModelStore(tmp_path / "store").versions() == ["v0001", "v0002"]
    decision = json.loads((second.version_dir / "promotion.json").read_text())
    assert decision["promoted"] is False and decision["incumbent"] == "v0001"

    third = train_and_register(good, tmp_path / "store", embedder, seed=1)
    assert third.promoted and third.in_use.name == "v0003"


def test_promotion_rule():
    assert promotion_decision({"accuracy": 0.9, "macro_f1": 0.9}, None)[0]
    assert promotion_decision({"accuracy": 0.9, "macro_f1": 0.9}, {"accuracy": 0.9, "macro_f1": 0.9})[0]
    ok, reason = promotion_decision({"accuracy": 0.95, "macro_f1": 0.8}, {"accuracy": 0.9, "macro_f1": 0.9})
    assert not ok and "macro_f1" in reason


def test_report_counts_unclassified_as_wrong_and_splits_by_tier():
    report = classification_report(["A", "A", "B", "B"], ["A", "unclassified", "B", "A"],
                                   ["rules", "unclassified", "model", "model"])
    assert report["accuracy"] == 0.5
    assert report["coverage_per_tier"] == {"model": 0.5, "rules": 0.25, "unclassified": 0.25}
    assert report["accuracy_per_tier"] == {"model": 0.5, "rules": 1.0}
    assert report["confusion"]["labels"] == ["A", "B", "unclassified"]
    assert report["confusion"]["matrix"] == [[1, 0, 1], [1, 1, 0]]
    assert report["per_label"]["B"]["recall"] == 0.5


def test_kv_f1():
    scores = kv_f1([{"a": "1", "b": "2"}, {}], [{"a": "1", "b": "3"}, {"c": "4"}])
    assert scores["precision"] == 0.5 and scores["recall"] == pytest.approx(1 / 3)


def test_training_set_merges_csvs_llm_answers_and_corrections(tmp_path):
    labels = tmp_path / "labels"
    labels.mkdir()
    mine = labelled_lines(per_template=1)
    mine.to_csv(labels / "mine.csv", index=False)
    cpu_line = next(m for m in mine["log_message"] if m.startswith("CPU usage"))
    corrected = re.sub(r"\d+", "5", cpu_line)  # another line of the same template
    LLMAnswerLog(labels / "llm_answers.csv")("legacy", "Order 7 stuck", Classification("Workflow Error", 0.8, "llm"))
    pd.DataFrame([("app", corrected, "Critical Error")],
                 columns=["source", "log_message", "target_label"]).to_csv(labels / "corrections.csv", index=False)
    frame = build_training_set(labels)
    assert set(frame["label_source"]) == {"csv", "llm", "human"}
    cpu = frame[frame["log_message"].str.startswith("CPU usage")]
    assert list(cpu["target_label"]) == ["Critical Error"]  # the correction replaced the CSV's label
    assert frame[frame["label_source"] == "llm"]["target_label"].tolist() == ["Workflow Error"]


def test_ground_truth_templates_become_examples(tmp_path):
    truth = pd.DataFrame({"file": ["f"] * 3, "line": [1, 2, 3], "n_lines": [1] * 3, "source": ["web"] * 3,
                          "template_id": ["t1", "t1", "t2"],
                          "template": ["GET {path} returned {status}", "GET {path} returned {status}", "CPU <*>%"],
                          "label": ["HTTP Status", "HTTP Status", "Resource Usage"], "pii": [""] * 3,
                          "bad_reason": [""] * 3})
    truth.to_csv(tmp_path / "ground_truth.csv.gz", index=False)
    frame = build_training_set(ground_truth=tmp_path / "ground_truth.csv.gz")
    assert sorted(frame["log_message"]) == ["CPU <*>%", "GET <*> returned <*>"]
    assert set(frame["label_source"]) == {"ground_truth"}


@pytest.mark.parametrize("content, problem", [
    ("a,b\n1,2\n", "missing column"),
    ("", "not a readable CSV"),
])
def test_bad_labelled_csvs(tmp_path, content, problem):
    path = tmp_path / "l.csv"
    path.write_text(content)
    with pytest.raises(LabelledDataError, match=problem):
        read_labelled_csv(path)


def test_calibrated_threshold_keeps_validation_accuracy_and_maximises_coverage():
    from logpilot_dagster.classify.training import calibrate_threshold
    probabilities = [0.99, 0.95, 0.9, 0.8, 0.6, 0.5, 0.4]
    correct = [True, True, True, True, True, False, False]
    assert calibrate_threshold(probabilities, correct, 0.99) == pytest.approx(
        {"threshold": 0.6, "met": True, "validation_lines": 7, "coverage": 5 / 7, "accuracy": 1.0,
         "target_accuracy": 0.99})
    assert calibrate_threshold(probabilities, correct, 0.7)["threshold"] == 0.0  # every answer is kept
    missed = calibrate_threshold([0.9, 0.8], [False, True], 0.99)
    assert not missed["met"] and missed["threshold"] == 0.8 and missed["accuracy"] == 0.5


def test_training_without_a_threshold_calibrates_it_and_keeps_the_calibration(tmp_path):
    embedder = HashingEmbedder()
    outcome = train_and_register(labelled_lines(per_template=8, seed=2), tmp_path / "store", embedder, seed=1)
    meta = json.loads((outcome.version_dir / "metadata.json").read_text())
    calibration = meta["training"]["threshold_calibration"]
    assert calibration["validation_lines"] > 0
    assert meta["threshold"] == max(calibration["threshold"], calibration["min_threshold"])
    assert LogClassifier.load(outcome.version_dir).threshold == meta["threshold"] == outcome.threshold


def test_the_line_split_is_stable_as_labels_accumulate():
    """A line held out once stays held out when more labelled lines arrive, so a promoted model was never
    trained on lines a later candidate is compared on; repeats of one message land on both sides."""
    data = labelled_lines(per_template=8, seed=2)
    _, test = held_out_split(data, test_size=0.2, seed=0, by="line")
    more = pd.concat([data, labelled_lines(per_template=8, seed=5)], ignore_index=True)
    _, test_later = held_out_split(more, test_size=0.2, seed=0, by="line")
    pairs = lambda f: set(zip(f["source"], f["log_message"], strict=True))  # noqa: E731
    assert pairs(test) <= pairs(test_later)
    repeated = pd.DataFrame({"source": ["crm"] * 50, "log_message": ["Feature X is no longer supported."] * 50,
                             "target_label": ["Deprecation Warning"] * 50})
    train, test = held_out_split(pd.concat([data, repeated], ignore_index=True), test_size=0.2, by="line")
    assert "Feature X is no longer supported." in set(train["log_message"]) & set(test["log_message"])


def test_frequent_keys_weigh_more_unless_told_otherwise():
    embedder = HashingEmbedder()
    data = labelled_lines(per_template=3, seed=2)
    frequent = data.iloc[0]
    data = pd.concat([data] + [data.iloc[[0]]] * 200, ignore_index=True)  # one message seen 201 times
    weighted = train_classifier(list(data["log_message"]), list(data["target_label"]), embedder)
    flat = train_classifier(list(data["log_message"]), list(data["target_label"]), embedder, key_weighting="none")
    assert weighted.training["key_weighting"] == "log_lines" and flat.training["key_weighting"] == "none"
    (label, p_weighted), = weighted.predict([frequent["log_message"]], embedder)
    (_, p_flat), = flat.predict([frequent["log_message"]], embedder)
    assert label == frequent["target_label"] and p_weighted > p_flat  # fitted more firmly for its 201 lines
    with pytest.raises(ModelError, match="key_weighting"):
        train_classifier(list(data["log_message"]), list(data["target_label"]), embedder, key_weighting="idf")
