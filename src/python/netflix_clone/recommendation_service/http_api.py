"""HTTP API (FastAPI): scores, batch scores, top-N, similar titles, model metadata, health and metrics."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Optional

import msgspec
from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, Field

from netflix_clone.recommendation_service.engine import Recommendation, UnknownItem, UnknownUser
from netflix_clone.recommendation_service.serving import ModelHolder

__all__ = ["create_app"]

MAX_N = 500
MAX_BATCH = 10_000
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)


class ScoreRequest(BaseModel):
    user: str = Field(min_length=1)
    items: list[str] = Field(min_length=1, max_length=MAX_BATCH)


class PairsRequest(BaseModel):
    pairs: list[tuple[str, str]] = Field(min_length=1, max_length=MAX_BATCH)


def create_app(holder: ModelHolder, registry: Optional[CollectorRegistry] = None) -> FastAPI:
    registry = registry or CollectorRegistry()
    latency = Histogram(
        "reco_request_seconds",
        "request latency by endpoint",
        ["endpoint"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    requests = Counter(
        "reco_requests_total",
        "requests by endpoint and status",
        ["endpoint", "status"],
        registry=registry,
    )
    cache_events = Counter(
        "reco_topn_cache_total", "top-N cache lookups", ["result"], registry=registry
    )

    app = FastAPI(title="recommendation-service", version="1", description=__doc__)

    app.add_middleware(_ObserveMiddleware, latency=latency, requests=requests)

    @app.exception_handler(UnknownUser)
    async def _unknown_user(_: Request, exc: UnknownUser) -> JSONResponse:
        return JSONResponse({"detail": f"unknown user {exc.args[0]!r}"}, status_code=404)

    @app.exception_handler(UnknownItem)
    async def _unknown_item(_: Request, exc: UnknownItem) -> JSONResponse:
        return JSONResponse({"detail": f"unknown title {exc.args[0]!r}"}, status_code=404)

    def _ready() -> None:
        if not holder.ready:
            raise HTTPException(
                503,
                f"no model loaded yet: {holder.last_error or 'waiting for ' + str(holder.model_root)}",
            )

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        if not holder.ready:
            return JSONResponse(
                {"status": "not ready", "error": holder.last_error}, status_code=503
            )
        body: dict[str, Any] = {"status": "ready", "model_version": holder.current.version}
        if holder.last_error:
            body["last_reload_error"] = holder.last_error
        return JSONResponse(body)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/model")
    async def model_info() -> dict[str, Any]:
        _ready()
        return {"version": holder.current.version, **holder.current.model.metadata}

    @app.get("/v1/score")
    async def score(user: str = Query(min_length=1), item: str = Query(min_length=1)) -> Response:
        _ready()
        recommender = holder.current
        return _json(
            {
                "user": user,
                "item": item,
                "score": recommender.score(user, item),
                "model_version": recommender.version,
            }
        )

    @app.post("/v1/scores")
    async def scores(body: ScoreRequest) -> dict[str, Any]:
        _ready()
        recommender = holder.current
        return {
            "user": body.user,
            "scores": dict(zip(body.items, recommender.scores(body.user, body.items))),
            "model_version": recommender.version,
        }

    @app.post("/v1/scores/pairs")
    async def score_pairs(body: PairsRequest) -> dict[str, Any]:
        _ready()
        recommender = holder.current
        return {
            "scores": [recommender.score(user, item) for user, item in body.pairs],
            "model_version": recommender.version,
        }

    @app.get("/v1/users/{user}/recommendations")
    async def recommendations(
        user: str,
        n: int = Query(10, ge=1, le=MAX_N),
        exclude_seen: bool = True,
        exclude: list[str] = Query(
            default_factory=list, description="titles to leave out (repeatable)"
        ),
        diversity: float = Query(0.0, ge=0.0, le=1.0, description="MMR lambda: 0 = pure relevance"),
    ) -> Response:
        _ready()
        recommender = holder.current
        # Cold-start lists are the same for every unknown user and cheap: only personal lists are cached.
        cache = holder.cache if recommender.knows_user(user) else None
        if cache is None:
            result = recommender.recommend(
                user, n, exclude_seen=exclude_seen, exclude=exclude, diversity=diversity
            )
            return _as_json(user, result, cached=False)
        key = cache.key(recommender.version, user, n, exclude_seen, exclude, diversity)
        cached = cache.get(key)
        cache_events.labels("hit" if cached is not None else "miss").inc()
        if cached is not None:
            return _as_json(user, cached, cached=True)
        result = recommender.recommend(
            user, n, exclude_seen=exclude_seen, exclude=exclude, diversity=diversity
        )
        cache.put(key, result)
        return _as_json(user, result, cached=False)

    @app.get("/v1/items/{item}/similar")
    async def similar(item: str, n: int = Query(10, ge=1, le=MAX_N)) -> Response:
        _ready()
        return _as_json(None, holder.current.similar(item, n))

    return app


def _as_json(user: Optional[str], result: Recommendation, cached: bool = False) -> Response:
    body: dict[str, Any] = {
        "items": [{"item": i, "score": round(s, 6)} for i, s in zip(result.items, result.scores)],
        "strategy": result.strategy,
        "model_version": result.model_version,
    }
    if user is not None:
        body["user"] = user
        body["cached"] = cached
    return _json(body)


def _json(body: dict[str, Any]) -> Response:
    # msgspec encodes in microseconds; FastAPI's default path re-validates through pydantic.
    return Response(msgspec.json.encode(body), media_type="application/json")


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
            self.requests.labels(endpoint, str(status)).inc()
