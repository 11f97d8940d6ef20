"""HTTP API (FastAPI): scores, batch scores, top-N, similar titles, model metadata, health and metrics.

Nothing blocks the event loop. Redis is reached through redis.asyncio with sub-second timeouts behind a
circuit breaker (topn_cache.py). Model work runs inline when it is cheaper than a thread hop (one score;
a top-N over at most 200k titles or through the HNSW index, without diversification and with a short
exclusion list: ~0.15 ms at 20k titles, while the hop to the pool costs ~0.2 ms of CPU on its own) and
in the thread pool otherwise (batches above 1,000 ids, MMR, long exclusion lists, huge exact catalogs).
`/healthz`, `/readyz` and `/metrics` do no I/O at all.

Hostile input is bounded before parsing (http_limits.py): bodies above `max_body_bytes` (1 MB) get 413,
request lines above 64 KiB get 414. Ids are at most 256 characters. Error details never echo more than
a 48-character prefix of what the client sent.

Redis is an optimisation: when it fails, lists are computed uncached, `reco_topn_cache_total{result=
"error"|"bypassed"}` counts it, and `/readyz` answers **200** with `"status": "degraded"` — a replica
that can compute every answer must stay in the load balancer; answering 503 would turn a cache outage
into a full outage when every replica shares the one Redis.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Annotated, Any, Optional

import msgspec
from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

# starlette comes with fastapi (not a requirement of its own): routing raises its HTTPException.
from starlette.exceptions import HTTPException as StarletteHTTPException  # pants: no-infer-dep
from starlette.routing import compile_path  # pants: no-infer-dep

from netflix_clone.recommendation_service.engine import Recommendation, Recommender, UnknownItem, UnknownUser
from netflix_clone.recommendation_service.http_limits import DEFAULT_MAX_BODY_BYTES, BodyLimitMiddleware
from netflix_clone.recommendation_service.serving import ModelHolder

__all__ = ["MAX_ID_LENGTH", "create_app", "short"]

MAX_N = 500
MAX_BATCH = 10_000
MAX_EXCLUDE = 50_000
MAX_GET_EXCLUDE = 16  # longer lists go in the POST body (a URL stays under 64 KiB)
MAX_ID_LENGTH = 256
ECHO_PREFIX = 48
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)

Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]


def _json_int(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be an integer")
        return int(value)
    return value


def _json_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a number")
    return float(value)


def _json_bool(value: Any) -> Any:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


JsonInt = Annotated[int, BeforeValidator(_json_int)]
JsonNumber = Annotated[float, BeforeValidator(_json_number)]
JsonBool = Annotated[bool, BeforeValidator(_json_bool)]


def short(value: Any) -> str:
    """A bounded, printable rendering of client input for error messages."""
    text = value if isinstance(value, str) else repr(value)
    clipped = text[:ECHO_PREFIX]
    return repr(clipped) + ("…" if len(text) > ECHO_PREFIX else "")


# ---- schemas -------------------------------------------------------------------------------------


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: Id
    items: list[Id] = Field(min_length=1, max_length=MAX_BATCH)


class PairsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pairs: list[tuple[Id, Id]] = Field(min_length=1, max_length=MAX_BATCH)


class RecommendationsRequest(BaseModel):
    """The POST form of the top-N route, for exclusion lists too long for a URL."""

    model_config = ConfigDict(extra="forbid")
    # JSON types as the schema says: false is not a number, "3" not an integer, 3.0 is one.
    n: JsonInt = Field(10, ge=1, le=MAX_N)
    exclude_seen: JsonBool = True
    exclude: list[Id] = Field(default_factory=list, max_length=MAX_EXCLUDE)
    diversity: JsonNumber = Field(0.0, ge=0.0, le=1.0)


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str = Field(description="ready, degraded (serving, Redis cache unavailable), not ready")
    model_version: Optional[str] = None
    model_uri: str
    cache: str = Field(description="disabled, ok, or unavailable: <reason>")
    reload_error: Optional[str] = Field(
        None, description="why CURRENT's version is not served (only while it is the case)"
    )
    error: Optional[str] = None


class ScoreResponse(BaseModel):
    user: str
    item: str
    score: float
    model_version: str


class ScoresResponse(BaseModel):
    user: str
    scores: dict[str, float]
    model_version: str


class PairScoresResponse(BaseModel):
    scores: list[float]
    model_version: str


class ScoredItem(BaseModel):
    item: str
    score: float


class RecommendationsResponse(BaseModel):
    user: str
    items: list[ScoredItem]
    strategy: str
    model_version: str
    cached: bool


class SimilarResponse(BaseModel):
    items: list[ScoredItem]
    strategy: str
    model_version: str


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    version: str


class ErrorDetail(BaseModel):
    detail: str


class ValidationIssue(BaseModel):
    loc: list[Any]
    msg: str
    type: str
    input: Optional[str] = Field(None, description="a short prefix of the offending input")


class ValidationErrorResponse(BaseModel):
    detail: list[ValidationIssue]


COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorDetail, "description": "malformed request (body not JSON text)"},
    413: {"model": ErrorDetail, "description": "request body above the limit"},
    414: {"model": ErrorDetail, "description": "request line too long"},
    422: {"model": ValidationErrorResponse, "description": "invalid input"},
    503: {"model": ErrorDetail, "description": "no model loaded yet"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorDetail, "description": "unknown user or title"}}


# ---- metrics -------------------------------------------------------------------------------------


class Telemetry:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.latency = Histogram(
            "reco_request_seconds",
            "request latency by endpoint",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.requests = Counter(
            "reco_requests_total",
            "requests by endpoint and status",
            ["endpoint", "status"],
            registry=registry,
        )
        self.cache = Counter(
            "reco_topn_cache_total",
            "top-N cache lookups: hit, miss, error (Redis failed), bypassed (circuit open)",
            ["result"],
            registry=registry,
        )
        self.cache_writes_failed = Counter(
            "reco_topn_cache_write_errors_total", "top-N lists not stored", registry=registry
        )
        self.refused = Counter(
            "reco_refused_requests_total",
            "requests refused before parsing",
            ["reason"],
            registry=registry,
        )
        self.model_events = Counter(
            "reco_model_events_total",
            "model watcher events: reload, reload_error, cache_invalidation_error",
            ["event"],
            registry=registry,
        )


def _metrics_payload(telemetry: Telemetry) -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        return bytes(generate_latest(merged))
    return bytes(generate_latest(telemetry.registry))


# ---- the app -------------------------------------------------------------------------------------


async def current_recommender(request: Request) -> Recommender:
    """The model a request uses from start to end (a reload mid-request never mixes two models)."""
    holder: ModelHolder = request.app.state.holder
    current = holder.peek()
    if current is None:
        raise HTTPException(503, f"no model loaded yet: {holder.last_error or 'waiting for ' + holder.model_root}")
    return current


Model = Annotated[Recommender, Depends(current_recommender)]


def create_app(
    holder: ModelHolder,
    registry: Optional[CollectorRegistry] = None,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    watch_interval_s: Optional[float] = None,
    telemetry: Optional[Telemetry] = None,
) -> FastAPI:
    """The API over `holder`. With `watch_interval_s` the app's lifespan runs the model watcher (the
    first load happens in the background, so `/healthz` answers at once and `/readyz` says 503 until
    a model is in)."""
    telemetry = telemetry or Telemetry(registry or CollectorRegistry())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if watch_interval_s is not None:
            holder.watch(watch_interval_s, load_now=True)
        try:
            yield
        finally:
            if watch_interval_s is not None:
                holder.close()

    app = FastAPI(
        title="recommendation-service",
        version="2",
        description=__doc__,
        lifespan=lifespan,
    )
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
    app.include_router(_ops_router(holder, telemetry))
    app.include_router(_v1_router(holder, telemetry))
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


def _ops_router(holder: ModelHolder, telemetry: Telemetry) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", response_model=Health)
    async def healthz() -> Response:
        return _json({"status": "ok"})

    @router.get(
        "/readyz",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "no model loaded yet"}},
    )
    async def readyz() -> Response:
        cache = holder.cache
        if cache is None:
            cache_state = "disabled"
        elif cache.healthy:
            cache_state = "ok"
        else:
            cache_state = f"unavailable: {cache.last_error}"
        body: dict[str, Any] = {"model_uri": holder.model_root, "cache": cache_state}
        recommender = holder.peek()
        if recommender is None:
            body.update(status="not ready", error=holder.last_error or "no model loaded yet")
            return _json(body, 503)
        body.update(
            status="ready" if cache_state in ("ok", "disabled") else "degraded",
            model_version=recommender.version,
        )
        if holder.last_error:
            body["reload_error"] = holder.last_error
        return _json(body)

    @router.get(
        "/metrics",
        response_class=PlainTextResponse,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
    )
    async def metrics() -> Response:
        return Response(_metrics_payload(telemetry), media_type=CONTENT_TYPE_LATEST)

    return router


INLINE_MAX_ITEMS = 200_000  # an exact top-N over this many titles stays under ~1 ms
INLINE_MAX_INPUTS = 1_000  # ids per request computed inline


async def _compute(cheap: bool, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run model work inline when it is cheaper than a thread hop (a 20k-title top-N is ~0.15 ms of
    numpy; the hop costs more CPU than that), else in the thread pool so the loop keeps answering.
    """
    if cheap:
        return fn(*args, **kwargs)
    return await run_in_threadpool(fn, *args, **kwargs)


def _cheap_top_n(rec: Recommender, diversity: float, exclude: int) -> bool:
    return (
        (rec.ann is not None or rec.model.n_items <= INLINE_MAX_ITEMS)
        and diversity == 0
        and exclude <= INLINE_MAX_INPUTS
    )


def _v1_router(holder: ModelHolder, telemetry: Telemetry) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["recommendations"], responses=COMMON_ERRORS)

    @router.get("/model", response_model=ModelInfo)
    async def model_info(rec: Model) -> Response:
        return _json({**rec.model.metadata, "version": rec.version})

    @router.get("/score", response_model=ScoreResponse, responses=NOT_FOUND)
    async def score(
        rec: Model,
        user: str = Query(min_length=1, max_length=MAX_ID_LENGTH),
        item: str = Query(min_length=1, max_length=MAX_ID_LENGTH),
    ) -> Response:
        return _json(
            {
                "user": user,
                "item": item,
                "score": rec.score(user, item),
                "model_version": rec.version,
            }
        )

    @router.post("/scores", response_model=ScoresResponse, responses=NOT_FOUND)
    async def scores(rec: Model, body: ScoreRequest) -> Response:
        values = await _compute(len(body.items) <= INLINE_MAX_INPUTS, rec.scores, body.user, body.items)
        return _json(
            {
                "user": body.user,
                "scores": dict(zip(body.items, values)),
                "model_version": rec.version,
            }
        )

    @router.post("/scores/pairs", response_model=PairScoresResponse, responses=NOT_FOUND)
    async def score_pairs(rec: Model, body: PairsRequest) -> Response:
        def compute() -> list[float]:
            return [rec.score(user, item) for user, item in body.pairs]

        values = await _compute(len(body.pairs) <= INLINE_MAX_INPUTS, compute)
        return _json({"scores": values, "model_version": rec.version})

    async def top_n(
        rec: Recommender,
        user: str,
        n: int,
        exclude_seen: bool,
        exclude: list[str],
        diversity: float,
    ) -> Response:
        cheap = _cheap_top_n(rec, diversity, len(exclude))
        # Cold-start lists are the same for every unknown user and cheap: only personal lists are cached.
        cache = holder.cache if rec.knows_user(user) else None
        if cache is None:
            result = await _compute(
                cheap, rec.recommend, user, n, exclude_seen=exclude_seen, exclude=exclude,
                diversity=diversity,
            )  # fmt: skip
            return _as_json(user, result, cached=False)
        key = cache.key(rec.version, user, n, exclude_seen, exclude, diversity)
        status, cached = await cache.alookup(key)
        telemetry.cache.labels(status).inc()
        if cached is not None:
            return _as_json(user, cached, cached=True)
        result = await _compute(
            cheap, rec.recommend, user, n, exclude_seen=exclude_seen, exclude=exclude,
            diversity=diversity,
        )  # fmt: skip
        if status == "miss" and not await cache.astore(key, result):
            telemetry.cache_writes_failed.inc()
        return _as_json(user, result, cached=False)

    @router.get("/users/{user}/recommendations", response_model=RecommendationsResponse)
    async def recommendations(
        rec: Model,
        user: str = Path(min_length=1, max_length=MAX_ID_LENGTH),
        n: int = Query(10, ge=1, le=MAX_N),
        exclude_seen: bool = True,
        exclude: Optional[list[Annotated[str, Field(max_length=MAX_ID_LENGTH)]]] = Query(
            None,
            max_length=MAX_GET_EXCLUDE,
            description="titles to leave out (repeatable; POST the same route for long lists)",
        ),
        diversity: float = Query(0.0, ge=0.0, le=1.0, description="MMR lambda: 0 = pure relevance"),
    ) -> Response:
        return await top_n(rec, user, n, exclude_seen, exclude or [], diversity)

    @router.post("/users/{user}/recommendations", response_model=RecommendationsResponse)
    async def recommendations_post(
        rec: Model,
        user: str = Path(min_length=1, max_length=MAX_ID_LENGTH),
        body: Optional[RecommendationsRequest] = Body(None),
    ) -> Response:
        body = body or RecommendationsRequest.model_validate({})
        return await top_n(rec, user, body.n, body.exclude_seen, body.exclude, body.diversity)

    @router.get("/items/{item}/similar", response_model=SimilarResponse, responses=NOT_FOUND)
    async def similar(
        rec: Model,
        item: str = Path(min_length=1, max_length=MAX_ID_LENGTH),
        n: int = Query(10, ge=1, le=MAX_N),
    ) -> Response:
        cheap = rec.similar_ann is not None or rec.model.n_items <= INLINE_MAX_ITEMS
        return _as_json(None, await _compute(cheap, rec.similar, item, n))

    return router


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


def _json(body: dict[str, Any], status: int = 200) -> Response:
    # msgspec encodes in microseconds; the response_model of each route documents the same shape
    # (and the contract tests check that every answer matches it).
    return Response(msgspec.json.encode(body), status_code=status, media_type="application/json")


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
