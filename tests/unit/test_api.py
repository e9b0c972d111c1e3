"""The HTTP API with good and bad uploads: CSV in → CSV out, JSON in → JSON out, 4xx for user mistakes."""

import io

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from support.labelled import HashingEmbedder, labelled_lines

from logpilot_dagster.api.app import ApiSettings, create_app
from logpilot_dagster.classify.classifier import ClassifierConfig, HybridClassifier
from logpilot_dagster.classify.model import train_classifier
from logpilot_dagster.llm.client import LLMConfig


@pytest.fixture(scope="module")
def client():
    embedder = HashingEmbedder()
    data = labelled_lines(per_template=5)
    model = train_classifier(list(data["log_message"]), list(data["target_label"]), embedder)
    config = ClassifierConfig(llm=LLMConfig(base_url=None))
    classifier = HybridClassifier(config, model=model, embedder=embedder)
    app = create_app(ApiSettings(classifier=config, max_upload_bytes=2048, max_json_items=50), classifier)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


GOOD_CSV = ("source,log_message,extra\n"
            "app,User User7 logged in.,x\n"
            "app,CPU usage at 97% on host golf,y\n"
            'app,"Failed to connect to database echo after 3 retries",z\n')


def upload(client, content: bytes, name="lines.csv"):
    return client.post("/classify", files={"file": (name, io.BytesIO(content), "text/csv")})


def test_csv_upload_returns_a_labelled_csv(client):
    response = upload(client, GOOD_CSV.encode())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    out = pd.read_csv(io.StringIO(response.text))
    assert list(out.columns) == ["source", "log_message", "extra", "target_label", "confidence", "tier", "reason"]
    assert list(out["target_label"]) == ["User Action", "Resource Usage", "Error"]
    assert list(out["tier"]) == ["rules", "model", "model"]


def test_raw_csv_body_and_bom_are_accepted(client):
    response = client.post("/classify", content=b"\xef\xbb\xbf" + GOOD_CSV.encode(),
                           headers={"content-type": "text/csv"})
    assert response.status_code == 200 and response.text.count("\n") == 4


def test_json_in_json_out(client):
    response = client.post("/classify", json={"items": [{"source": "app", "log_message": "User bob logged out"}]})
    assert response.status_code == 200
    (result,) = response.json()["results"]
    assert (result["target_label"], result["tier"], result["confidence"]) == ("User Action", "rules", 1.0)


@pytest.mark.parametrize("content, status, says", [
    (b"source,message\napp,hello\n", 422, "missing column(s) log_message"),
    (b"", 400, "empty"),
    (b"   \n", 400, "empty"),
    (b"source,log_message\n", 400, "no rows"),
    (b"source,log_message\napp,caf\xe9 \xff\n", 400, "not UTF-8"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", 400, "binary"),
    (b'source,log_message\napp,"unterminated\n', 400, "not a valid CSV"),
    (b"source,log_message\n" + b"app,x\n" * 500, 413, "over the limit"),
])
def test_bad_uploads_get_a_clear_4xx(client, content, status, says):
    response = upload(client, content)
    assert response.status_code == status, response.text
    assert says in response.json()["detail"]


@pytest.mark.parametrize("kwargs, status, says", [
    ({"json": {"items": []}}, 422, "items"),
    ({"json": {"lines": [1]}}, 422, "items"),
    ({"json": [{"source": "a"}]}, 422, "log_message"),
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "not valid"),
    ({"content": b"", "headers": {"content-type": "application/json"}}, 400, "empty body"),
    ({"json": {"items": [{"source": "a", "log_message": "m"}] * 51}}, 413, "over the limit"),
    ({"content": b"hello", "headers": {"content-type": "image/png"}}, 415, "unsupported content type"),
    ({"files": {"other": ("a.csv", b"source,log_message\na,b\n", "text/csv")}}, 400, "no file in the form field"),
])
def test_bad_requests_get_a_clear_4xx(client, kwargs, status, says):
    response = client.post("/classify", **kwargs)
    assert response.status_code == status, response.text
    assert says in response.json()["detail"]


def test_health_and_docs(client):
    health = client.get("/health").json()
    assert health["status"] == "ok"
    assert health["tiers"]["model"]["enabled"] and not health["tiers"]["llm"]["enabled"]
    assert "no endpoint configured" in health["tiers"]["llm"]["reason"]
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]["/classify"]["post"]["requestBody"]["content"]) >= {"application/json",
                                                                                 "multipart/form-data"}
