"""A real HTTP server on loopback standing in for Slack, Grafana and a service's health endpoints.

Responses are programmed per (method, path) as a queue; the last response repeats. Every request is
recorded with its JSON body, so tests assert on what was actually sent over the wire.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    headers: dict[str, str]


@dataclass
class FakeHttp:
    url: str
    routes: dict[tuple[str, str], list[tuple[int, Any, dict[str, str]]]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)

    def respond(self, method: str, path: str, *responses: tuple[int, Any] | tuple[int, Any, dict[str, str]]) -> None:
        self.routes[(method, path)] = [(r[0], r[1], r[2] if len(r) > 2 else {}) for r in responses]

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]


@contextmanager
def fake_http() -> Iterator[FakeHttp]:
    state = FakeHttp(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            with lock:
                state.requests.append(Recorded(self.command, self.path, body, dict(self.headers)))
                queue = state.routes.get((self.command, self.path))
                status: int
                payload: Any
                headers: dict[str, str]
                if not queue:
                    status, payload, headers = 404, {"message": "not found"}, {}
                else:
                    status, payload, headers = queue.pop(0) if len(queue) > 1 else queue[0]
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _handle

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  # pylint: disable=redefined-builtin
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def deploy_endpoints() -> Iterator[FakeHttp]:
    """Slack's webhook and a service's health endpoints, all answering OK until a test says otherwise."""
    with fake_http() as server:
        server.respond("POST", "/slack", (200, "ok"))
        server.respond("GET", "/healthz", (200, {"status": "ok"}))
        server.respond("GET", "/readyz", (200, {"status": "ready"}))
        yield server
