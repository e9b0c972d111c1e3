"""Purge requests as files: `$LOGPILOT_HOME/purge_requests/<name>.json` holding `{"subject": "..."}` (and
optionally `"include_landing": true`). Once executed, the file is replaced by a receipt under `done/` that
keeps the request id, the salted hash and the counts — never the subject. A request that could not run yet
(another process held what the purge needs) stays where it is."""

from __future__ import annotations

import json

from logpilot_dagster.lifecycle.purge import purge
from logpilot_dagster.store.layout import HomeLayout
from logpilot_dagster.store.locks import Busy


def pending_requests(layout: HomeLayout) -> list[str]:
    folder = layout.purge_requests
    return sorted(p.name for p in folder.glob("*.json") if p.is_file()) if folder.is_dir() else []


def execute_pending(layout: HomeLayout, names: list[str] | None = None) -> list[dict]:
    receipts = []
    done = layout.purge_requests / "done"
    for name in names or pending_requests(layout):
        path = layout.purge_requests / name
        if path.name != name or not path.is_file():  # a name with a path in it, or already executed
            continue
        try:
            request = json.loads(path.read_text(encoding="utf-8"))
            subject = str(request["subject"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            receipt = {"request": name, "error": f"not a purge request ({type(err).__name__}): "
                       'expected {"subject": "..."}'}
        else:
            try:
                report = purge(layout, subject, include_landing=bool(request.get("include_landing")), verify=True)
            except Busy as busy:  # nothing edited, or part-way (`PurgeIncomplete`): the request stays, tried again
                receipts.append({"request": name, "pending": str(busy)})
                continue
            receipt = {"request": name, "request_id": report.request_id, "subject_hash": report.subject_hash,
                       "lines_purged": report.lines_purged, "per_sink": report.per_sink,
                       "verified": report.verified, "seconds": round(report.seconds, 2)}
        done.mkdir(parents=True, exist_ok=True)
        (done / name).write_text(json.dumps(receipt, indent=2), encoding="utf-8")
        path.unlink()
        receipts.append(receipt)
    return receipts
