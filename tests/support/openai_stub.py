"""A local OpenAI-compatible chat endpoint for tests: a thread serving on a free 127.0.0.1 port, replying from
a script (good JSON, malformed JSON, a label outside the set, a stall past the client's timeout, HTTP 500,
a reply cut off with finish_reason "length"), then from a default responder once the script runs out.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    content: str = ""
    status: int = 200
    delay_s: float = 0.0
    finish_reason: str = "stop"

    @classmethod
    def json(cls, payload: dict) -> Reply:
        return cls(content=json.dumps(payload))

    @classmethod
    def malformed(cls) -> Reply:
        return cls(content='{"label": "Error", ')

    @classmethod
    def server_error(cls) -> Reply:
        return cls(status=500, content="internal error")

    @classmethod
    def stall(cls, seconds: float) -> Reply:
        return cls(content=json.dumps({"label": "Error"}), delay_s=seconds)

    @classmethod
    def truncated(cls) -> Reply:
        return cls(content='{"label": "Err', finish_reason="length")


class OpenAIStub:
    """Use as a context manager; `base_url` goes into the client's config, `requests` records what came in."""

    def __init__(self, default: Callable[[dict], Reply] | None = None):
        self.script: deque[Reply] = deque()
        self.default = default or (lambda request: Reply.json({"label": "Error", "confidence": 0.9}))
        self.requests: list[dict] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def queue(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def __enter__(self) -> OpenAIStub:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next_reply(self, request: dict) -> Reply:
        self.requests.append(request)
        return self.script.popleft() if self.script else self.default(request)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                reply = stub._next_reply(json.loads(body or b"{}"))
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.status != 200:
                    self._send(reply.status, {"error": {"message": reply.content, "type": "server_error"}})
                    return
                self._send(200, {
                    "id": "chatcmpl-stub",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": "stub",
                    "choices": [{
                        "index": 0,
                        "message": {"role": "assistant", "content": reply.content},
                        "finish_reason": reply.finish_reason,
                    }],
                })

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout); nothing to tell it

            def log_message(self, *args) -> None:
                pass  # keep test output clean

        return Handler


def last_user_prompt(request: dict) -> str:
    return next(m["content"] for m in reversed(request.get("messages", [])) if m["role"] == "user")
