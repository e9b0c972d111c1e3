"""The API's documentation works without internet, and its OpenAPI schema is whole."""

import re
from urllib.parse import urljoin, urlparse

import pytest
from fastapi.testclient import TestClient

from logpilot_dagster.api.app import ApiSettings, create_app
from logpilot_dagster.classify.classifier import ClassifierConfig, HybridClassifier
from logpilot_dagster.llm.client import LLMConfig

BASE = "http://testserver"


@pytest.fixture(scope="module")
def client():
    config = ClassifierConfig(llm=LLMConfig(base_url=None), use_model=False)
    with TestClient(create_app(ApiSettings(classifier=config), HybridClassifier(config)), base_url=BASE) as c:
        yield c


def external_urls(text: str) -> list[str]:
    return [u for u in re.findall(r"""https?://[^\s"'<>)]+""", text) if urlparse(u).netloc != "testserver"]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_everything_from_the_app(client, page):
    response = client.get(page)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert external_urls(response.text) == []
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", response.text)
    scripts = [a for a in assets if a.endswith(".js")]
    assert scripts, "the page loads its UI from a script"
    for asset in assets:
        url = urljoin(BASE + page, asset)
        assert urlparse(url).netloc == "testserver", asset
        fetched = client.get(url)
        assert fetched.status_code == 200 and len(fetched.content) > 1000, asset
        if asset.endswith(".css"):  # a stylesheet could still pull fonts or images from elsewhere
            assert [u for u in re.findall(r"url\(([^)]*)\)", fetched.text)
                    if not u.strip("'\"").startswith("data:")] == []
    spec_url = re.search(r"""(?:url: |spec-url=)["']([^"']+)["']""", response.text).group(1)
    assert client.get(urljoin(BASE + page, spec_url)).json()["info"]["title"]


def test_swagger_ui_does_not_send_the_spec_to_an_online_validator(client):
    assert '"validatorUrl": null' in client.get("/docs").text


def refs(node, path="#"):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield path, value
            else:
                yield from refs(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from refs(value, f"{path}/{i}")


def resolve(spec: dict, pointer: str):
    assert pointer.startswith("#/"), pointer
    node = spec
    for part in pointer[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_every_ref_in_the_openapi_schema_resolves(client):
    spec = client.get("/openapi.json").json()
    found = list(refs(spec))
    assert len(found) >= 8
    dangling = []
    for where, pointer in found:
        try:
            resolve(spec, pointer)
        except (KeyError, AssertionError):
            dangling.append(f"{where} -> {pointer}")
    assert dangling == []
    json_body = spec["paths"]["/classify"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert resolve(spec, json_body["oneOf"][0]["$ref"])["required"] == ["items"]
    assert set(resolve(spec, "#/components/schemas/LogLine")["properties"]) == {"source", "log_message"}


def test_the_4xx_answers_are_documented_with_an_error_model(client):
    spec = client.get("/openapi.json").json()
    responses = spec["paths"]["/classify"]["post"]["responses"]
    assert {"200", "400", "413", "415", "422", "503"} <= set(responses)
    for code in ("400", "413", "415", "422", "503"):
        schema = responses[code]["content"]["application/json"]["schema"]
        assert resolve(spec, schema["$ref"])["properties"]["detail"]["type"] == "string"
    assert set(responses["200"]["content"]) == {"application/json", "text/csv"}


@pytest.mark.parametrize("kwargs", [{"json": {"items": []}}, {"content": b"x", "headers": {"content-type": "a/b"}}])
def test_documented_error_bodies_are_what_the_app_sends(client, kwargs):
    response = client.post("/classify", **kwargs)
    assert 400 <= response.status_code < 500 and str(response.status_code) in \
        client.get("/openapi.json").json()["paths"]["/classify"]["post"]["responses"]
    assert set(response.json()) == {"detail"} and isinstance(response.json()["detail"], str)


def test_the_root_answers_with_the_service_status(client):
    root, health = client.get("/"), client.get("/health")
    assert root.status_code == 200 and root.json() == health.json()
    assert root.json()["status"] == "ok" and "tiers" in root.json()
