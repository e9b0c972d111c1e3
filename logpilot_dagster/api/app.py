"""The HTTP API: `POST /classify` (CSV upload → CSV download, or JSON → JSON), `GET /health`, docs at `/docs`.

    uvicorn --factory logpilot_dagster.api.app:create_app      # or: logpilot serve

A user's mistake (wrong columns, not a CSV, an empty file, too large, undecodable bytes, bad JSON) gets a 4xx
with a message that says what to fix; never a 500.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

import pandas as pd
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import UploadFile

from logpilot_dagster.classify.classifier import ClassifierConfig, HybridClassifier
from logpilot_dagster.classify.csv_io import CsvInputError, classify_frame, read_input_chunks

MB = 1024 * 1024


@dataclass(frozen=True)
class ApiSettings:
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig.from_env)
    max_upload_bytes: int = 20 * MB
    max_json_items: int = 10_000
    upload_field: str = "file"


class LogLine(BaseModel):
    source: str = Field(min_length=0, max_length=200, examples=["billing"])
    log_message: str = Field(min_length=1, examples=["User User42 logged in."])


class ClassifyRequest(BaseModel):
    items: list[LogLine] = Field(min_length=1, description="the lines to classify")


class LineResult(BaseModel):
    source: str
    log_message: str
    target_label: str
    confidence: float
    tier: str = Field(description="rules | model | llm | human | unclassified")
    reason: str


class ClassifyResponse(BaseModel):
    results: list[LineResult]


_REQUEST_BODIES = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": ClassifyRequest.model_json_schema()},
            "multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary",
                                        "description": "UTF-8 CSV with columns source, log_message"}}}},
            "text/csv": {"schema": {"type": "string"}},
        },
    },
    "responses": {"200": {"content": {"text/csv": {}, "application/json": {}}}},
}


def create_app(settings: ApiSettings | None = None, classifier: HybridClassifier | None = None) -> FastAPI:
    """The app; the classifier is built on first use (or passed in, e.g. by tests)."""
    settings = settings or ApiSettings()
    app = FastAPI(title="LogPilot classification API", version="1.0",
                  description="Label log lines with the hybrid classifier (rules → embedding model → LLM).")
    state = {"classifier": classifier}
    lock = threading.Lock()

    def get_classifier() -> HybridClassifier:
        with lock:
            if state["classifier"] is None:
                state["classifier"] = HybridClassifier(settings.classifier)
            return state["classifier"]

    def run(frame: pd.DataFrame) -> pd.DataFrame:
        classifier = get_classifier()
        with lock:  # one router cache and LLM budget: decisions are made one request at a time
            return classify_frame(classifier, frame)

    @app.get("/health")
    def health() -> dict:
        """Liveness and which tiers are enabled (the LLM tier says why when it is off)."""
        return {"status": "ok", "tiers": get_classifier().tiers(),
                "limits": {"max_upload_bytes": settings.max_upload_bytes, "max_json_items": settings.max_json_items}}

    @app.post("/classify", openapi_extra=_REQUEST_BODIES, response_model=None,
              summary="Classify a CSV upload (returns CSV) or a JSON list of lines (returns JSON)")
    async def classify(request: Request) -> Response:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > settings.max_upload_bytes + 64 * 1024:
            raise _too_large(settings)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/json":
            return _classify_json(await _read_body(request, settings), settings, run)
        if content_type == "multipart/form-data":
            data = await _read_upload(request, settings)
        elif content_type in ("text/csv", "text/plain", "application/csv", "application/octet-stream"):
            data = await _read_body(request, settings)
        else:
            raise HTTPException(415, f"unsupported content type {content_type or 'none'!r}: upload a CSV as "
                                f"multipart form field {settings.upload_field!r} or send application/json")
        try:
            frame = pd.concat(list(read_input_chunks(data)), ignore_index=True)
        except CsvInputError as err:
            raise HTTPException(_csv_status(err), str(err)) from err
        out = run(frame)
        return Response(out.to_csv(index=False), media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="classified.csv"'})

    return app


def _classify_json(body: bytes, settings: ApiSettings, run) -> JSONResponse:
    try:
        payload = json.loads(body.decode("utf-8")) if body.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise HTTPException(400, f"the body is not valid UTF-8 JSON: {err}") from err
    if payload is None:
        raise HTTPException(400, 'empty body; send {"items": [{"source": ..., "log_message": ...}]}')
    if isinstance(payload, list):
        payload = {"items": payload}
    try:
        request = ClassifyRequest.model_validate(payload)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()[:5])
        raise HTTPException(422, f'expected {{"items": [{{"source": ..., "log_message": ...}}]}}: {problems}') from err
    if len(request.items) > settings.max_json_items:
        raise HTTPException(413, f"{len(request.items):,} items is over the limit of {settings.max_json_items:,} "
                            "per request; split the request or upload a CSV")
    frame = pd.DataFrame([item.model_dump() for item in request.items], columns=["source", "log_message"])
    out = run(frame)
    return JSONResponse(ClassifyResponse(results=out.to_dict(orient="records")).model_dump())


async def _read_body(request: Request, settings: ApiSettings) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > settings.max_upload_bytes:
            raise _too_large(settings)
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_upload(request: Request, settings: ApiSettings) -> bytes:
    try:
        form = await request.form()
    except Exception as err:  # starlette raises several kinds for a broken multipart body
        raise HTTPException(400, f"could not read the multipart upload: {err}") from err
    upload = form.get(settings.upload_field)
    if not isinstance(upload, UploadFile):
        raise HTTPException(400, f"no file in the form field {settings.upload_field!r}; upload the CSV as "
                            f"`-F {settings.upload_field}=@lines.csv`")
    data = await upload.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise _too_large(settings)
    return data


def _too_large(settings: ApiSettings) -> HTTPException:
    return HTTPException(413, f"the upload is over the limit of {settings.max_upload_bytes / MB:g} MB; "
                         "split the file or use `logpilot classify` for large files")


def _csv_status(err: CsvInputError) -> int:
    return 422 if "missing column" in str(err) else 400
