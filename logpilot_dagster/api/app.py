"""The HTTP API: `POST /classify` (CSV upload → CSV download, or JSON → JSON), `GET /health` (and `GET /`),
docs at `/docs` and `/redoc` (served from an installed package: no internet needed).

    uvicorn --factory logpilot_dagster.api.app:create_app      # or: logpilot serve

A user's mistake (wrong columns, not a CSV, ragged rows, an empty file, too large, undecodable bytes, bad
or too deeply nested JSON) gets a 4xx with a message that says what to fix; never a 500. Parsing and
classification run in worker threads, a bounded number at a time, so `/health` answers while a large
upload is being classified.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import pandas as pd
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic.json_schema import models_json_schema
from starlette.datastructures import UploadFile

from logpilot_dagster.api.gate import WarehouseGate
from logpilot_dagster.api.json_body import JsonBodyError, parse_json
from logpilot_dagster.api.purge import purge_router
from logpilot_dagster.api.questions import add_question_routes
from logpilot_dagster.classify.classifier import ClassifierConfig, HybridClassifier
from logpilot_dagster.classify.csv_io import (
    OUTPUT_COLUMNS,
    CsvColumnsError,
    CsvInputError,
    classify_frame,
    read_input_chunks,
    write_csv,
)
from logpilot_dagster.store.layout import HomeLayout
from logpilot_dagster.store.locks import Busy

MB = 1024 * 1024
MULTIPART_SLACK = 64 * 1024  # form boundaries and part headers around the file


@dataclass(frozen=True)
class ApiSettings:
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig.from_env)
    max_upload_bytes: int = 20 * MB
    max_json_items: int = 10_000
    upload_field: str = "file"
    workers: int = 2  # requests parsed and classified in worker threads at once (classification: one at a time)
    max_pending: int = 16  # /classify requests in progress (reading, queued, working) before new ones get 503
    home: str | None = None  # the LogPilot home /search, /ask and /purge use; None: $LOGPILOT_HOME or ./.logpilot


class LogLine(BaseModel):
    source: str = Field(max_length=200, examples=["billing"])
    log_message: str = Field(examples=["User User42 logged in."],
                             description='a blank message is answered target_label "unclassified", reason '
                                         '"empty message", as in a CSV')

    @model_validator(mode="before")
    @classmethod
    def _no_output_fields(cls, value: Any) -> Any:
        present = [k for k in OUTPUT_COLUMNS if isinstance(value, dict) and k in value]
        if present:  # the same refusal as a CSV that has these columns: nothing of the client's is overwritten
            raise ValueError(f"the line already has {', '.join(present)}, which classification writes; "
                             "rename or drop them")
        return value

    @field_validator("source", "log_message")
    @classmethod
    def _encodable(cls, value: str) -> str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as err:  # a lone surrogate escape such as "\ud800"
            raise ValueError("is not valid Unicode text (it holds a lone surrogate escape)") from err
        return value


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


class ErrorResponse(BaseModel):
    detail: str = Field(description="what is wrong with the request and how to fix it")


_REF = "#/components/schemas/{model}"
_ERRORS = {
    400: "Not a usable body: empty, not UTF-8, binary, a malformed CSV (rows with the wrong number of fields "
         "are named), invalid or too deeply nested JSON, or a broken multipart upload",
    413: "Over the upload size limit, or too many JSON items (see GET /health for the limits)",
    415: "Unsupported content type",
    422: "Readable, but the wrong shape: a required column or field missing, a column name twice, or a "
         "column/field the classifier writes (target_label, confidence, tier, reason) already present",
    503: "Too many requests in progress; retry after the number of seconds in Retry-After",
}
_CLASSIFY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"oneOf": [
                {"$ref": _REF.format(model="ClassifyRequest")},
                {"type": "array", "items": {"$ref": _REF.format(model="LogLine")}, "minItems": 1},
            ]}},
            "multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary",
                                        "description": "UTF-8 CSV with columns source, log_message"}}}},
            "text/csv": {"schema": {"type": "string"}},
        },
    },
}
_CLASSIFY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": ClassifyResponse,
          "description": "The CSV with target_label, confidence, tier and reason added (for a CSV), or the "
                         "results (for JSON)",
          "content": {"text/csv": {"schema": {"type": "string"}}}},
    **{code: {"model": ErrorResponse, "description": text} for code, text in _ERRORS.items()},
}


def create_app(settings: ApiSettings | None = None, classifier: HybridClassifier | None = None) -> FastAPI:
    """The app; the classifier is built on first use (or passed in, e.g. by tests)."""
    settings = settings or ApiSettings()
    app = FastAPIOffline(
        title="LogPilot classification API", version="1.0",
        description="Label log lines with the hybrid classifier (rules → embedding model → LLM).",
        swagger_ui_parameters={"validatorUrl": None})  # else Swagger UI asks swagger.io to validate the spec
    _add_request_schemas(app)
    state: dict[str, Any] = {"classifier": classifier, "pending": 0}
    building, deciding = threading.Lock(), threading.Lock()
    limiter = anyio.CapacityLimiter(settings.workers)

    def get_classifier() -> HybridClassifier:
        with building:
            if state["classifier"] is None:
                state["classifier"] = HybridClassifier(settings.classifier)
            return state["classifier"]

    def run(frame: pd.DataFrame) -> pd.DataFrame:
        classifier = get_classifier()
        with deciding:  # one router cache and LLM budget: decisions are made one request at a time
            return classify_frame(classifier, frame)

    async def health() -> dict:
        """Liveness, which tiers are enabled (the LLM tier says why when it is off) and the request limits."""
        classifier = state["classifier"] or await anyio.to_thread.run_sync(get_classifier)
        return {"status": "ok", "tiers": classifier.tiers(),
                "limits": {"max_upload_bytes": settings.max_upload_bytes, "max_json_items": settings.max_json_items}}

    gate = WarehouseGate()  # questions share the warehouse, a purge has it alone (see `api/gate.py`)
    app.include_router(purge_router(lambda: HomeLayout.from_env(settings.home), limiter, gate))
    app.get("/health", summary="Service status")(health)
    app.get("/", summary="Service status (the same as /health)")(health)

    @app.post("/classify", openapi_extra=_CLASSIFY_DOC, response_model=None, responses=_CLASSIFY_RESPONSES,
              summary="Classify a CSV upload (returns CSV) or a JSON list of lines (returns JSON)")
    async def classify(request: Request) -> Response:
        if state["pending"] >= settings.max_pending:
            raise HTTPException(503, f"{settings.max_pending} requests are in progress; retry in a few seconds",
                                headers={"Retry-After": "5"})
        state["pending"] += 1  # only touched on the event loop's thread
        try:
            return await _classify(request, settings, limiter, run)
        finally:
            state["pending"] -= 1

    add_question_routes(app, settings.home, limiter, gate, {  # GET /search, POST /ask (api/questions.py)
        409: {"model": ErrorResponse, "description": "No warehouse or vector index yet: run `logpilot bootstrap`"},
        422: {"model": ErrorResponse, "description": "A blank or too long question, or k out of range"},
        503: {"model": ErrorResponse, "description": "The warehouse stayed held by another process (a bootstrap "
                                                     "load) for longer than a reader waits; retry"}})

    @app.exception_handler(Busy)
    async def busy(_request: Request, exc: Busy) -> JSONResponse:
        """Whatever the route: another process held what it needs (the warehouse, a lock) for too long."""
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})

    return app


async def _classify(request: Request, settings: ApiSettings, limiter: anyio.CapacityLimiter,
                    run: Callable[[pd.DataFrame], pd.DataFrame]) -> Response:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > settings.max_upload_bytes + MULTIPART_SLACK:
        raise _too_large(settings)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        body = await _read_body(request, settings.max_upload_bytes, settings)
        return await anyio.to_thread.run_sync(_classify_json, body, settings, run, limiter=limiter)
    if content_type == "multipart/form-data":
        data = await _read_upload(request, settings)
    elif content_type in ("text/csv", "text/plain", "application/csv", "application/octet-stream"):
        data = await _read_body(request, settings.max_upload_bytes, settings)
    else:
        raise HTTPException(415, f"unsupported content type {content_type or 'none'!r}: upload a CSV as "
                            f"multipart form field {settings.upload_field!r} or send application/json")
    return await anyio.to_thread.run_sync(_classify_csv, data, run, limiter=limiter)


def _classify_csv(data: bytes, run: Callable[[pd.DataFrame], pd.DataFrame]) -> Response:
    try:
        out = run(pd.concat(list(read_input_chunks(data)), ignore_index=True))
    except CsvInputError as err:
        raise HTTPException(422 if isinstance(err, CsvColumnsError) else 400, str(err)) from err
    text = io.StringIO()
    write_csv(out, text)
    return Response(text.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="classified.csv"'})


def _classify_json(body: bytes, settings: ApiSettings, run: Callable[[pd.DataFrame], pd.DataFrame]
                   ) -> JSONResponse:
    if not body.strip():
        raise HTTPException(400, 'empty body; send {"items": [{"source": ..., "log_message": ...}]}')
    try:
        payload = parse_json(body)
    except JsonBodyError as err:
        raise HTTPException(400, str(err)) from err
    if isinstance(payload, list):
        payload = {"items": payload}
    items = payload.get("items") if isinstance(payload, dict) else None
    if isinstance(items, list) and len(items) > settings.max_json_items:  # before validating them all
        raise HTTPException(413, f"{len(items):,} items is over the limit of {settings.max_json_items:,} "
                            "per request; split the request or upload a CSV")
    try:
        request = ClassifyRequest.model_validate(payload)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()[:5])
        raise HTTPException(422, f'expected {{"items": [{{"source": ..., "log_message": ...}}]}}: {problems}') from err
    frame = pd.DataFrame([item.model_dump() for item in request.items], columns=["source", "log_message"])
    out = run(frame)
    return JSONResponse(ClassifyResponse(results=out.to_dict(orient="records")).model_dump())


async def _read_body(request: Request, limit: int, settings: ApiSettings) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(settings)
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_upload(request: Request, settings: ApiSettings) -> bytes:
    # The body is read within the limit first: the form parser itself would spool any size to disk.
    body = await _read_body(request, settings.max_upload_bytes + MULTIPART_SLACK, settings)
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=1, max_fields=100)
    except Exception as err:  # starlette raises several kinds for a broken multipart body
        raise HTTPException(400, f"could not read the multipart upload: {err}") from err
    try:
        upload = form.get(settings.upload_field)
        if not isinstance(upload, UploadFile):
            raise HTTPException(400, f"no file in the form field {settings.upload_field!r}; upload the CSV as "
                                f"`-F {settings.upload_field}=@lines.csv`")
        data = await upload.read(settings.max_upload_bytes + 1)
    finally:
        await form.close()
    if len(data) > settings.max_upload_bytes:
        raise _too_large(settings)
    return data


def _too_large(settings: ApiSettings) -> HTTPException:
    return HTTPException(413, f"the upload is over the limit of {settings.max_upload_bytes / MB:g} MB; "
                         "split the file or use `logpilot classify` for large files")


def _add_request_schemas(app: FastAPI) -> None:
    """Put the JSON request's models under components/schemas, where the hand-written request body's $refs
    point (FastAPI only adds the models that a route's parameters use)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            _, defs = models_json_schema([(ClassifyRequest, "validation")], ref_template=_REF)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(defs["$defs"])
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
