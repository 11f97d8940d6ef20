"""Liveness, readiness and Prometheus `/metrics` over a small threaded HTTP server.

Workers (stream consumers, job runners) have no web framework; this gives them the same three
endpoints the HTTP services expose, on a separate port.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

__all__ = ["HealthChecks", "OpsServer", "ReadinessReport"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReadinessReport:
    ready: bool
    checks: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"status": "ready" if self.ready else "not ready", "checks": self.checks}


@dataclass
class HealthChecks:
    """Named readiness checks; a check signals failure by raising."""

    _checks: dict[str, Callable[[], None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, name: str, check: Callable[[], None]) -> None:
        with self._lock:
            self._checks[name] = check

    def run(self) -> ReadinessReport:
        with self._lock:
            checks = dict(self._checks)
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                check()
                results[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - any failure means not ready, and is reported
                results[name] = f"failing: {type(exc).__name__}: {exc}"
        return ReadinessReport(all(v == "ok" for v in results.values()), results)


class OpsServer:
    """Serves /healthz, /readyz and /metrics in a daemon thread. Port 0 picks a free port."""

    def __init__(
        self,
        checks: HealthChecks,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        started = time.monotonic()
        handler = _make_handler(checks, registry, started)
        self._host = host
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread: Optional[threading.Thread] = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def start(self) -> OpsServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="ops-http", daemon=True)
        self._thread.start()
        _log.info("ops endpoints listening", extra={"url": self.url})
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> OpsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _make_handler(checks: HealthChecks, registry: CollectorRegistry, started: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                self._json(200, {"status": "ok", "uptime_s": round(time.monotonic() - started, 3)})
            elif path == "/readyz":
                report = checks.run()
                self._json(200 if report.ready else 503, report.to_json())
            elif path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            else:
                self._json(404, {"error": f"no such endpoint: {path}"})

        def _json(self, status: int, body: dict[str, Any]) -> None:
            self._send(status, "application/json", json.dumps(body).encode())

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # pylint: disable=redefined-builtin
            _log.debug("ops-http " + format, *args)

    return Handler
