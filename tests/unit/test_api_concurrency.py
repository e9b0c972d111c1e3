"""Classification runs off the event loop, a bounded number of requests at a time: /health stays fast."""

import threading
import time

import pytest
from fastapi.testclient import TestClient

from logpilot_dagster.api.app import ApiSettings, create_app
from logpilot_dagster.classify.classifier import ClassifierConfig
from logpilot_dagster.classify.router import Classification
from logpilot_dagster.llm.client import LLMConfig

CSV = b"source,log_message\napp,something slow\n"
WAIT = 10.0  # seconds any step may take before the test gives up (each wait is bounded)


class SlowClassifier:
    """Holds every classify call until `release` is set, so a request stays in flight as long as a test needs."""

    def __init__(self):
        self.started = threading.Event()
        self.release = threading.Event()
        self.active = self.most_active = 0
        self._count = threading.Lock()

    def classify(self, items):
        with self._count:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        self.started.set()
        try:
            self.release.wait(WAIT)
            return [Classification("Error", 0.5, "model", "slow fake") for _ in items]
        finally:
            with self._count:
                self.active -= 1

    def tiers(self) -> dict:
        return {"fake": {"enabled": True}}


def in_thread(target) -> tuple[threading.Thread, dict]:
    out: dict = {}
    thread = threading.Thread(target=lambda: out.update(response=target()), daemon=True)
    thread.start()
    return thread, out


@pytest.fixture
def slow():
    classifier = SlowClassifier()
    yield classifier
    classifier.release.set()  # never leave a request hanging, whatever the test did


def app_with(slow, **limits):
    settings = ApiSettings(classifier=ClassifierConfig(llm=LLMConfig(base_url=None)), **limits)
    return create_app(settings, slow)


def post_csv(client):
    return client.post("/classify", content=CSV, headers={"content-type": "text/csv"})


def test_health_answers_while_a_classification_is_in_flight(slow):
    with TestClient(app_with(slow)) as client:
        classify_thread, classified = in_thread(lambda: post_csv(client))
        assert slow.started.wait(WAIT), "the classification never started"
        started = time.perf_counter()
        health_thread, health = in_thread(lambda: client.get("/health"))
        health_thread.join(timeout=2.0)
        answered_in = time.perf_counter() - started
        root = client.get("/") if not health_thread.is_alive() else None
        slow.release.set()
        classify_thread.join(WAIT)
        health_thread.join(WAIT)
    assert "response" in health and answered_in < 1.0, f"/health took {answered_in:.2f}s behind a classification"
    assert health["response"].json()["status"] == "ok" and root.status_code == 200
    assert classified["response"].status_code == 200
    assert "slow fake" in classified["response"].text


def test_a_request_over_the_pending_bound_gets_503(slow):
    with TestClient(app_with(slow, max_pending=1), raise_server_exceptions=False) as client:
        first, first_out = in_thread(lambda: post_csv(client))
        assert slow.started.wait(WAIT)
        refused = post_csv(client)
        assert client.get("/health").status_code == 200
        slow.release.set()
        first.join(WAIT)
    assert refused.status_code == 503 and int(refused.headers["retry-after"]) > 0
    assert "in progress" in refused.json()["detail"]
    assert first_out["response"].status_code == 200


def test_queued_requests_complete_one_classification_at_a_time(slow):
    with TestClient(app_with(slow, workers=1, max_pending=4)) as client:
        threads = [in_thread(lambda: post_csv(client)) for _ in range(3)]
        assert slow.started.wait(WAIT)
        assert client.get("/health").status_code == 200
        slow.release.set()
        for thread, _ in threads:
            thread.join(WAIT)
    assert [out["response"].status_code for _, out in threads] == [200, 200, 200]
    assert slow.most_active == 1  # one router cache and LLM budget: one classification at a time
