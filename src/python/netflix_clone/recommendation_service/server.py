"""Running the HTTP API: one process, or `--workers N` processes behind one listening socket.

Each worker builds its own app (`app_from_environment`, a uvicorn factory) with its own model watcher
and Redis client. The model's float arrays are memory-mapped from the version's files, so N workers
hold one copy of the factors in the page cache, not N. Workers poll the same CURRENT pointer (a local
root or S3), so they converge on the same version within one reload interval. Counters are merged
across workers through prometheus_client's multiprocess mode (a private PROMETHEUS_MULTIPROC_DIR).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

__all__ = ["ServeConfig", "app_from_environment", "build_app", "default_workers", "run"]

CONFIG_ENV = "RECO_SERVE_CONFIG"


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ServeConfig:
    model_uri: str
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    redis_url: Optional[str] = None
    redis_timeout_s: float = 0.25
    cache_ttl: int = 3600
    cache_prefix: str = "reco:"
    cold_start: str = "popularity"
    reload_interval: float = 5.0
    max_body_bytes: int = 1 << 20
    model_cache_dir: Optional[str] = None


def build_app(config: ServeConfig) -> Any:
    from prometheus_client import CollectorRegistry
    from threadpoolctl import threadpool_limits

    from netflix_clone.recommendation_service.adapters.registry import open_store
    from netflix_clone.recommendation_service.adapters.topn_cache import (
        TopNCache,
        async_redis_factory,
        redis_client_for_serving,
    )
    from netflix_clone.recommendation_service.http_api import Telemetry, create_app
    from netflix_clone.recommendation_service.serving import ModelHolder

    # Requests are the parallelism (threads, workers): BLAS threads inside one request only fight them.
    threadpool_limits(limits=1, user_api="blas")
    telemetry = Telemetry(CollectorRegistry())
    cache = None
    if config.redis_url:
        cache = TopNCache(
            redis_client_for_serving(config.redis_url, timeout_s=config.redis_timeout_s),
            prefix=config.cache_prefix,
            ttl_s=config.cache_ttl,
            async_factory=async_redis_factory(config.redis_url, timeout_s=config.redis_timeout_s),
        )
    store = open_store(
        config.model_uri,
        cache_dir=Path(config.model_cache_dir) if config.model_cache_dir else None,
    )
    holder = ModelHolder(
        store,
        cold_start=config.cold_start,
        cache=cache,
    )
    return create_app(
        holder,
        telemetry=telemetry,
        max_body_bytes=config.max_body_bytes,
        watch_interval_s=config.reload_interval,
    )


def app_from_environment() -> Any:
    """uvicorn factory for worker processes: the config travels in RECO_SERVE_CONFIG."""
    return build_app(ServeConfig(**json.loads(os.environ[CONFIG_ENV])))


def run(config: ServeConfig) -> None:
    import uvicorn

    from netflix_clone.recommendation_service.http_limits import BoundedHttpToolsProtocol

    common: dict[str, Any] = {
        "host": config.host,
        "port": config.port,
        "http": BoundedHttpToolsProtocol,
        "log_level": "warning",
        "access_log": False,
        "timeout_graceful_shutdown": 10,
    }
    if config.workers <= 1:
        uvicorn.run(build_app(config), **common)
        return
    metrics_dir = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="reco-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    os.environ[CONFIG_ENV] = json.dumps(asdict(config))
    try:
        uvicorn.run(
            "netflix_clone.recommendation_service.server:app_from_environment",
            factory=True,
            workers=config.workers,
            **common,
        )
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
