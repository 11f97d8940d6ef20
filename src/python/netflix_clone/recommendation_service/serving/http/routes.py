"""The routes: operations (`/healthz`, `/readyz`, `/metrics`) and the versioned API (`/v1/...`).

Each route declares its response model (the OpenAPI document shows every answer's schema) and gets what
it needs through dependencies: the model holder and telemetry of the app serving the request, and the
recommender it uses from start to end (a reload mid-request never mixes two models). Answers are
encoded with msgspec (microseconds) in the shape the response model documents; the contract tests check
every answer against the schema.

Model work runs inline when it is cheaper than a thread hop (one score; a top-N over at most 200k titles
or through the HNSW index, without diversification and with a short exclusion list: ~0.15 ms at 20k
titles, while the hop to the pool costs ~0.2 ms of CPU on its own) and in the thread pool otherwise
(batches above 1,000 ids, MMR, long exclusion lists, huge exact catalogs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Optional

import msgspec
from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import Field

from netflix_clone.recommendation_service.domain.recommendation import Recommendation
from netflix_clone.recommendation_service.serving.http.schemas import (
    COMMON_ERRORS,
    MAX_GET_EXCLUDE,
    MAX_ID_LENGTH,
    MAX_N,
    NOT_FOUND,
    Health,
    ModelInfo,
    PairScoresResponse,
    PairsRequest,
    Readiness,
    RecommendationsRequest,
    RecommendationsResponse,
    ScoreRequest,
    ScoreResponse,
    ScoresResponse,
    SimilarResponse,
)
from netflix_clone.recommendation_service.serving.http.telemetry import Telemetry, metrics_payload
from netflix_clone.recommendation_service.serving.model_holder import ModelHolder
from netflix_clone.recommendation_service.serving.recommender import Recommender

__all__ = ["current_recommender", "model_holder", "ops", "telemetry", "v1"]

INLINE_MAX_ITEMS = 200_000  # an exact top-N over this many titles stays under ~1 ms
INLINE_MAX_INPUTS = 1_000  # ids per request computed inline


# ---- dependencies (async: FastAPI runs plain functions in the thread pool, a hop per request) -------


async def model_holder(request: Request) -> ModelHolder:
    """The holder of the app serving this request (`create_app` puts it on the app's state)."""
    holder: ModelHolder = request.app.state.holder
    return holder


async def telemetry(request: Request) -> Telemetry:
    metrics: Telemetry = request.app.state.telemetry
    return metrics


Holder = Annotated[ModelHolder, Depends(model_holder)]
Metrics = Annotated[Telemetry, Depends(telemetry)]


async def current_recommender(holder: Holder) -> Recommender:
    """The model a request uses from start to end; 503 before the first model is loaded."""
    current = holder.peek()
    if current is None:
        raise HTTPException(503, f"no model loaded yet: {holder.last_error or 'waiting for ' + holder.model_root}")
    return current


Model = Annotated[Recommender, Depends(current_recommender)]


# ---- operations ----------------------------------------------------------------------------------

ops = APIRouter(tags=["operations"])


@ops.get("/healthz", response_model=Health)
async def healthz() -> Response:
    return _json({"status": "ok"})


@ops.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "no model loaded yet"}},
)
async def readyz(holder: Holder) -> Response:
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


@ops.get(
    "/metrics",
    response_class=PlainTextResponse,
    response_model=str,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
async def metrics(meter: Metrics) -> Response:
    return Response(metrics_payload(meter), media_type=CONTENT_TYPE_LATEST)


# ---- /v1 -----------------------------------------------------------------------------------------

v1 = APIRouter(prefix="/v1", tags=["recommendations"], responses=COMMON_ERRORS)


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


@v1.get("/model", response_model=ModelInfo)
async def model_info(rec: Model) -> Response:
    return _json({**rec.model.metadata, "version": rec.version})


@v1.get("/score", response_model=ScoreResponse, responses=NOT_FOUND)
async def score(
    rec: Model,
    user: str = Query(min_length=1, max_length=MAX_ID_LENGTH),
    item: str = Query(min_length=1, max_length=MAX_ID_LENGTH),
) -> Response:
    return _json({"user": user, "item": item, "score": rec.score(user, item), "model_version": rec.version})


@v1.post("/scores", response_model=ScoresResponse, responses=NOT_FOUND)
async def scores(rec: Model, body: ScoreRequest) -> Response:
    values = await _compute(len(body.items) <= INLINE_MAX_INPUTS, rec.scores, body.user, body.items)
    return _json({"user": body.user, "scores": dict(zip(body.items, values)), "model_version": rec.version})


@v1.post("/scores/pairs", response_model=PairScoresResponse, responses=NOT_FOUND)
async def score_pairs(rec: Model, body: PairsRequest) -> Response:
    def compute() -> list[float]:
        return [rec.score(user, item) for user, item in body.pairs]

    values = await _compute(len(body.pairs) <= INLINE_MAX_INPUTS, compute)
    return _json({"scores": values, "model_version": rec.version})


async def _top_n(
    holder: ModelHolder,
    meter: Telemetry,
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
            cheap, rec.recommend, user, n, exclude_seen=exclude_seen, exclude=exclude, diversity=diversity
        )
        return _as_json(user, result, cached=False)
    key = cache.key(rec.version, user, n, exclude_seen, exclude, diversity)
    status, cached = await cache.alookup(key)
    meter.cache.labels(status).inc()
    if cached is not None:
        return _as_json(user, cached, cached=True)
    result = await _compute(
        cheap, rec.recommend, user, n, exclude_seen=exclude_seen, exclude=exclude, diversity=diversity
    )
    if status == "miss" and not await cache.astore(key, result):
        meter.cache_writes_failed.inc()
    return _as_json(user, result, cached=False)


@v1.get("/users/{user}/recommendations", response_model=RecommendationsResponse)
async def recommendations(
    rec: Model,
    holder: Holder,
    meter: Metrics,
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
    return await _top_n(holder, meter, rec, user, n, exclude_seen, exclude or [], diversity)


@v1.post("/users/{user}/recommendations", response_model=RecommendationsResponse)
async def recommendations_post(
    rec: Model,
    holder: Holder,
    meter: Metrics,
    user: str = Path(min_length=1, max_length=MAX_ID_LENGTH),
    body: Optional[RecommendationsRequest] = Body(None),
) -> Response:
    body = body or RecommendationsRequest.model_validate({})
    return await _top_n(holder, meter, rec, user, body.n, body.exclude_seen, body.exclude, body.diversity)


@v1.get("/items/{item}/similar", response_model=SimilarResponse, responses=NOT_FOUND)
async def similar(
    rec: Model,
    item: str = Path(min_length=1, max_length=MAX_ID_LENGTH),
    n: int = Query(10, ge=1, le=MAX_N),
) -> Response:
    cheap = rec.similar_ann is not None or rec.model.n_items <= INLINE_MAX_ITEMS
    return _as_json(None, await _compute(cheap, rec.similar, item, n))


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
