"""Whatever a client sends, the API answers 2xx or a 4xx with a message: never a 500."""

import io
import json

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logpilot_dagster.api.app import ApiSettings, create_app
from logpilot_dagster.api.json_body import MAX_DEPTH, json_depth
from logpilot_dagster.classify.classifier import ClassifierConfig, HybridClassifier
from logpilot_dagster.llm.client import LLMConfig

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def client():
    config = ClassifierConfig(llm=LLMConfig(base_url=None), use_model=False)
    app = create_app(ApiSettings(classifier=config, max_upload_bytes=64 * 1024, max_json_items=50),
                     HybridClassifier(config))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def post_json(client, body: bytes):
    return client.post("/classify", content=body, headers=JSON)


@pytest.mark.parametrize("body, status, says", [
    (b"[" * 1000 + b"]" * 1000, 400, "nests 1,000 levels deep"),
    (b'{"a":' * 1000 + b"1" + b"}" * 1000, 400, "nests 1,000 levels deep"),
    (b"[" * 20_000, 400, "nests 20,000 levels deep"),  # unclosed: refused before the parser recurses
    (b'{"items": [{"source": "a", "log_message": "x", "extra": ' + b"[" * 40 + b"]" * 40 + b"}]}", 400,
     f"at most {MAX_DEPTH}"),
    (b'{"items": [{"source": "a", "log_message": "' + b"[" * 5000 + b'"}]}', 200, ""),  # brackets in a string
    (b'{"items": [{"source": "a", "log_message": "x"}], "n": ' + b"9" * 5000 + b"}", 400, "digits accepted"),
    (b'{"items": [{"source": "a", "log_message": 1e999999}]}', 422, "log_message"),
    (b'{"items": [{"source": "a", "log_message": NaN}]}', 400, "NaN is not a JSON value"),
    (b'{"items": [{"source": "a", "log_message": Infinity}]}', 400, "Infinity is not a JSON value"),
    (b'{"items": [{"source": "a", "log_message": "caf\xe9"}]}', 400, "not valid UTF-8"),
    (b'\xef\xbb\xbf{"items": [{"source": "a", "log_message": "x"}]}', 200, ""),
    (b'{"items": [{"source": "a", "log_message": "\\ud800"}]}', 422, "lone surrogate"),
    (b'{"items": [{"source": 1, "log_message": "x"}]}', 422, "source"),
    (b'{"items": [{"source": "a", "log_message": ["x"]}]}', 422, "log_message"),
    (b'{"items": [{"source": "a", "log_message": null}]}', 422, "log_message"),
    (b'{"items": "not a list"}', 422, "items"),
    (b'{"items": [1, 2]}', 422, "items.0"),
    (b'"just a string"', 422, "expected"),
    (b"null", 422, "expected"),
    (b"42", 422, "expected"),
    (b"[]", 422, "items"),
    (b'{"items": [{"source": "' + b"s" * 201 + b'", "log_message": "x"}]}', 422, "source"),
    (b'{"items": [{"source": "a", "log_message": "x", "target_label": "mine"}]}', 422, "already has target_label"),
    (b'{"items": [{"source": "a", "log_message": "x"}]}  trailing', 400, "not valid"),
    (b'{"items": [{"source": "a", "log_message": "unterminated}]}', 400, "not valid"),
])
def test_hostile_json_gets_a_clear_answer(client, body, status, says):
    response = post_json(client, body)
    assert response.status_code == status, response.text
    if status >= 400:
        assert says in response.json()["detail"]


@pytest.mark.parametrize("request_kwargs, status", [
    ({"content": b"source,log_message\na,b\n", "headers": {"content-type": "multipart/form-data"}}, 400),
    ({"content": b"--x\r\ngarbage", "headers": {"content-type": "multipart/form-data; boundary=x"}}, 400),
    ({"files": {"file": ("a.csv", b"source,log_message\na,b\n"), "other": ("b.csv", b"x")}}, 400),
    ({"files": {"file": (None, b"not a file")}}, 400),  # a plain form field, not a file
    ({"data": {"file": "not a file"}}, 415),
    ({"content": b"source,log_message\na,b\n", "headers": {"content-type": "text/csv; charset=latin-1"}}, 200),
    ({"content": b"\xff\xfes\x00o\x00", "headers": {"content-type": "text/csv"}}, 400),
    ({"content": b"source,log_message\r\na,\"b\"\"c\"\r\n", "headers": {"content-type": "text/csv"}}, 200),
    ({"content": b"source,log_message\na,b\n", "headers": {"content-type": ""}}, 415),
    ({"content": b"x" * (70 * 1024), "headers": {"content-type": "text/csv"}}, 413),
    ({"files": {"file": ("a.csv", b"source,log_message\n" + b"a,b\n" * 20_000)}}, 413),
])
def test_hostile_uploads_get_a_clear_answer(client, request_kwargs, status):
    response = client.post("/classify", **request_kwargs)
    assert response.status_code == status, response.text
    if status >= 400:
        assert response.json()["detail"]


def test_a_chunked_upload_without_a_length_is_still_bounded(client):
    def body():
        for _ in range(100):
            yield b"source,log_message\n" + b"a,b\n" * 250  # 100 KB in all, no content-length

    response = client.post("/classify", content=body(), headers={"content-type": "text/csv"})
    assert response.status_code == 413


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                               max_size=4), max_leaves=30))
def test_no_json_value_gets_a_500(client, value):
    body = json.dumps({"items": value} if isinstance(value, list) else value).encode("utf-8", "surrogatepass")
    assert post_json(client, body).status_code < 500


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_no_bytes_get_a_500(client, data):
    for content_type in ("application/json", "text/csv"):
        response = client.post("/classify", content=data, headers={"content-type": content_type})
        assert response.status_code < 500
    response = client.post("/classify", files={"file": ("x.csv", io.BytesIO(data), "text/csv")})
    assert response.status_code < 500


@pytest.mark.parametrize("body, depth", [
    (b"", 0), (b"1", 0), (b"{}", 1), (b"[[], [[]]]", 3), (b'["]]]]", "[[[["]', 1),
    (b'["\\"[[["]', 1), (b'["\\\\", [[]]]', 3), (b'"unterminated [[[[', 0), (b"[[[", 3), (b"]]]", 0),
])
def test_json_depth_ignores_strings_and_counts_unclosed_brackets(body, depth):
    assert json_depth(body) == depth
