"""`POST /purge`: a right-to-be-forgotten request over HTTP, executed at once (the same purge as the CLI)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio
from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from logpilot_dagster.api.gate import WarehouseGate
from logpilot_dagster.store.layout import HomeLayout
from logpilot_dagster.store.locks import Busy

if TYPE_CHECKING:
    from logpilot_dagster.lifecycle.purge import PurgeReport

API_WAIT_S = 10.0  # a request does not hang behind a bootstrap's mining: it is refused, and nothing is edited


class PurgeRequest(BaseModel):
    subject: str = Field(min_length=1, max_length=512, description="a user name, customer id, e-mail, account",
                         examples=["CUST-552418"])
    include_landing: bool = Field(False, description="also rewrite landing files that mention the subject")


class PurgeAnswer(BaseModel):
    request_id: str
    subject_hash: str = Field(description="salted hash of the subject, as purge_audit records it")
    lines_purged: int
    per_sink: dict[str, int]
    landing_files_mentioning: list[str]
    verified: bool = Field(description="no copy of the subject is left in any sink")
    left: dict[str, int]
    seconds: float


def purge_router(layout: Callable[[], HomeLayout], limiter: anyio.CapacityLimiter, gate: WarehouseGate
                 ) -> APIRouter:
    router = APIRouter()
    lock = anyio.Lock()  # one purge at a time: it rewrites files and the warehouse

    @router.post("/purge", response_model=PurgeAnswer, summary="Remove every copy of a subject",
                 responses={422: {"description": "No subject, or an empty one"},
                            503: {"description": "No warehouse yet (run the bootstrap), or the miner's state "
                                                  "held by a bootstrap's mining (try again)"}})
    async def purge(request: PurgeRequest) -> PurgeAnswer:
        from logpilot_dagster.lifecycle.purge import PurgeIncomplete
        from logpilot_dagster.lifecycle.purge import purge as run_purge

        home = layout()
        if not request.subject.strip():
            raise HTTPException(422, "the subject is empty")
        if not home.duckdb.exists():
            raise HTTPException(503, f"no warehouse at {home.duckdb}: run `logpilot bootstrap` first")
        async with lock:
            try:
                report = await anyio.to_thread.run_sync(lambda: _purge_alone(
                    gate, lambda: run_purge(home, request.subject, include_landing=request.include_landing,
                                            verify=True, wait_s=API_WAIT_S)), limiter=limiter)
            except PurgeIncomplete as busy:  # part-way: the message says what is done
                raise HTTPException(503, str(busy)) from None
            except Busy as busy:  # nothing was edited
                raise HTTPException(503, f"{busy}; nothing was purged, try again") from None
        return PurgeAnswer(request_id=report.request_id, subject_hash=report.subject_hash,
                           lines_purged=report.lines_purged, per_sink=report.per_sink,
                           landing_files_mentioning=report.landing_files, verified=report.verified,
                           left=report.left, seconds=round(report.seconds, 2))

    return router


def _purge_alone(gate: WarehouseGate, run: Callable[[], PurgeReport]) -> PurgeReport:
    with gate.writing():
        return run()
