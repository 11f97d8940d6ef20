"""HTTP API (FastAPI): scores, batch scores, top-N, similar titles, model metadata, health and metrics.

`create_app` assembles the app: the routers (routes.py), the holder and telemetry on the app's state
(the routes reach them through dependencies), a lifespan that runs the model watcher, the input limits
and the error handlers. Nothing blocks the event loop. Redis is reached through redis.asyncio with
sub-second timeouts behind a circuit breaker (adapters/topn_cache.py). `/healthz`, `/readyz` and
`/metrics` do no I/O at all.

Hostile input is bounded before parsing (limits.py): bodies above `max_body_bytes` (1 MB) get 413,
request lines above 64 KiB get 414. Ids are at most 256 characters. Error details never echo more than
a 48-character prefix of what the client sent.

Redis is an optimisation: when it fails, lists are computed uncached, `reco_topn_cache_total{result=
"error"|"bypassed"}` counts it, and `/readyz` answers **200** with `"status": "degraded"` — a replica
that can compute every answer must stay in the load balancer; answering 503 would turn a cache outage
into a full outage when every replica shares the one Redis.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any, Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, Counter, Histogram

# starlette comes with fastapi (not a requirement of its own): routing raises its HTTPException.
from starlette.exceptions import HTTPException as StarletteHTTPException  # pants: no-infer-dep
from starlette.routing import compile_path  # pants: no-infer-dep

from netflix_clone.platform.metrics import new_registry
from netflix_clone.recommendation_service.errors import UnknownItem, UnknownUser
from netflix_clone.recommendation_service.serving.http import routes
from netflix_clone.recommendation_service.serving.http.limits import DEFAULT_MAX_BODY_BYTES, BodyLimitMiddleware
from netflix_clone.recommendation_service.serving.http.schemas import ECHO_PREFIX, short
from netflix_clone.recommendation_service.serving.http.telemetry import Telemetry
from netflix_clone.recommendation_service.serving.model_holder import ModelHolder

__all__ = ["Telemetry", "create_app"]


def create_app(
    holder: ModelHolder,
    registry: Optional[CollectorRegistry] = None,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    watch_interval_s: Optional[float] = None,
    telemetry: Optional[Telemetry] = None,
    multiprocess_dir: Optional[str] = None,
) -> FastAPI:
    """The API over `holder`. With `watch_interval_s` the app's lifespan runs the model watcher (the
    first load happens in the background, so `/healthz` answers at once and `/readyz` says 503 until
    a model is in)."""
    telemetry = telemetry or Telemetry(registry or new_registry(), multiprocess_dir=multiprocess_dir)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if watch_interval_s is not None:
            holder.watch(watch_interval_s, load_now=True)
        try:
            yield
        finally:
            if watch_interval_s is not None:
                holder.close()

    app = FastAPI(title="recommendation-service", version="2", description=__doc__, lifespan=lifespan)
    app.state.holder = holder
    app.state.telemetry = telemetry
    holder.subscribe(lambda event: telemetry.model_events.labels(event).inc())
    app.add_middleware(
        BodyLimitMiddleware,
        max_body_bytes=max_body_bytes,
        on_refused=lambda reason: telemetry.refused.labels(reason).inc(),
    )
    app.add_middleware(_ObserveMiddleware, latency=telemetry.latency, requests=telemetry.requests)
    _install_error_handlers(app)
    app.include_router(routes.ops)
    app.include_router(routes.v1)
    return app


def _allowed_methods(app: FastAPI) -> list[tuple[Any, set[str]]]:
    table = getattr(app.state, "allowed_methods", None)
    if table is None:
        table = [
            (compile_path(path)[0], {m.upper() for m in methods}) for path, methods in app.openapi()["paths"].items()
        ]
        app.state.allowed_methods = table
    return list(table)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the first route's methods when several routes share a path
            # (GET and POST /v1/users/{user}/recommendations): list them all, as RFC 9110 asks.
            path = request.scope.get("path", "")
            allowed = {m for regex, methods in _allowed_methods(request.app) if regex.match(path) for m in methods}
            if allowed:
                headers = {k: v for k, v in headers.items() if k.lower() != "allow"}
                headers["allow"] = ", ".join(sorted(allowed))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(UnknownUser)
    async def _unknown_user(_: Request, exc: UnknownUser) -> JSONResponse:
        return JSONResponse({"detail": f"unknown user {short(exc.args[0])}"}, status_code=404)

    @app.exception_handler(UnknownItem)
    async def _unknown_item(_: Request, exc: UnknownItem) -> JSONResponse:
        return JSONResponse({"detail": f"unknown title {short(exc.args[0])}"}, status_code=404)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        issues = []
        for error in list(exc.errors())[:20]:
            issue: dict[str, Any] = {
                "loc": [part if isinstance(part, int) else str(part)[:ECHO_PREFIX] for part in error.get("loc", ())],
                "msg": str(error.get("msg", ""))[:200],
                "type": str(error.get("type", ""))[:64],
            }
            if "input" in error and error["input"] is not None:
                value = error["input"]
                issue["input"] = (
                    short(value)
                    if isinstance(value, (str, int, float, bool))
                    else f"<{type(value).__name__} of {len(value) if hasattr(value, '__len__') else '?'}>"
                )
            issues.append(issue)
        return JSONResponse({"detail": issues}, status_code=422)


Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class _ObserveMiddleware:
    """Latency histogram and request counter per route template, as plain ASGI (cheaper than Starlette's
    BaseHTTPMiddleware, which wraps every response in a task and a stream)."""

    def __init__(
        self,
        app: Callable[[Message, Receive, Send], Awaitable[None]],
        latency: Histogram,
        requests: Counter,
    ) -> None:
        self.app = app
        self.latency = latency
        self.requests = requests

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def _send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            endpoint = getattr(scope.get("route"), "path", "unmatched")
            self.latency.labels(endpoint).observe(time.perf_counter() - started)
