"""Redis cache of top-N lists, keyed by model version so a new model never serves stale lists.

The cache is an optimisation. The server uses the tolerant calls (`alookup`/`astore` on the event loop,
through redis.asyncio when an async client factory is given, else the sync client in a worker thread;
`lookup`/`store` from threads): a Redis that is
down, refuses, or hangs (bounded by the client's socket timeout) makes them answer "error" and open a
circuit for `retry_after_s`, during which they answer "bypassed" without touching the network; the next
call after that window tries Redis again (and `probe`, which the model watcher calls, closes the circuit
as soon as Redis answers a PING, so readiness recovers without traffic). The strict calls (`get`, `put`,
`put_many`, `drop_versions_except`) raise: `warm-cache` should fail loudly when Redis is gone.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Optional

import msgspec

from netflix_clone.recommendation_service.domain.recommendation import Recommendation

__all__ = ["CacheStatus", "TopNCache", "async_redis_factory", "redis_client_for_serving"]

CacheStatus = str  # "hit", "miss", "error", "bypassed"


def redis_client_for_serving(url: str, *, timeout_s: float = 0.25) -> Any:
    """A client that never makes a request wait long: short connect/read timeouts, no retries, no
    connection made up front (the server starts whether Redis is up or not)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
        health_check_interval=0,
        max_connections=64,
    )


def async_redis_factory(url: str, *, timeout_s: float = 0.25) -> Callable[[], Any]:
    """Makes redis.asyncio clients with the same bounds (one per event loop: connections belong to
    the loop that opened them)."""

    def make() -> Any:
        import redis.asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        return redis.asyncio.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
            health_check_interval=0,
            max_connections=256,
        )

    return make


def _redis_errors() -> tuple[type[BaseException], ...]:
    import redis

    return (redis.exceptions.RedisError, OSError, asyncio.TimeoutError)


class TopNCache:
    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "reco:",
        ttl_s: int = 3600,
        retry_after_s: float = 1.0,
        async_factory: Optional[Callable[[], Any]] = None,
    ) -> None:
        self.client = client
        self._async_factory = async_factory
        self._async_clients: dict[int, Any] = {}
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.retry_after_s = retry_after_s
        self._errors = _redis_errors()
        self._lock = threading.Lock()
        self._open_until = 0.0
        self.last_error: Optional[str] = None
        self.failures = 0

    # -- state ------------------------------------------------------------------------------------
    @property
    def healthy(self) -> bool:
        return self.last_error is None

    def _failed(self, exc: BaseException) -> None:
        with self._lock:
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}"
            self._open_until = time.monotonic() + self.retry_after_s

    def _succeeded(self) -> None:
        if self.last_error is not None:
            with self._lock:
                self.last_error = None
                self._open_until = 0.0

    def _bypass(self) -> bool:
        return time.monotonic() < self._open_until

    def probe(self) -> bool:
        """PING Redis; closes the circuit when it answers."""
        try:
            self.client.ping()
        except self._errors as exc:
            self._failed(exc)
            return False
        self._succeeded()
        return True

    # -- keys -------------------------------------------------------------------------------------
    def key(
        self,
        version: str,
        user: str,
        n: int,
        exclude_seen: bool,
        exclude: Sequence[str],
        diversity: float,
    ) -> str:
        variant = hashlib.blake2b(
            f"{n}|{int(exclude_seen)}|{','.join(sorted(exclude))}|{diversity:.3f}".encode(),
            digest_size=6,
        ).hexdigest()
        return f"{self.prefix}topn:{version}:{user}:{variant}"

    # -- tolerant calls (serving) -----------------------------------------------------------------
    def lookup(self, key: str) -> tuple[CacheStatus, Optional[Recommendation]]:
        if self._bypass():
            return "bypassed", None
        try:
            raw = self.client.get(key)
        except self._errors as exc:
            self._failed(exc)
            return "error", None
        self._succeeded()
        if raw is None:
            return "miss", None
        try:
            return "hit", msgspec.json.decode(raw, type=Recommendation)
        except (msgspec.ValidationError, msgspec.DecodeError):  # foreign or older entry: recompute
            return "miss", None

    def store(self, key: str, value: Recommendation) -> bool:
        if self._bypass():
            return False
        try:
            self.client.set(key, msgspec.json.encode(value), ex=self.ttl_s)
        except self._errors as exc:
            self._failed(exc)
            return False
        self._succeeded()
        return True

    def _async_client(self) -> Any:
        loop = id(asyncio.get_running_loop())
        client = self._async_clients.get(loop)
        if client is None:
            assert self._async_factory is not None  # nosec B101 - checked by the callers
            client = self._async_clients[loop] = self._async_factory()
        return client

    async def alookup(self, key: str) -> tuple[CacheStatus, Optional[Recommendation]]:
        """`lookup` without blocking the event loop."""
        if self._bypass():
            return "bypassed", None
        if self._async_factory is None:
            return await asyncio.to_thread(self.lookup, key)
        try:
            raw = await self._async_client().get(key)
        except self._errors as exc:
            self._failed(exc)
            return "error", None
        self._succeeded()
        if raw is None:
            return "miss", None
        try:
            return "hit", msgspec.json.decode(raw, type=Recommendation)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return "miss", None

    async def astore(self, key: str, value: Recommendation) -> bool:
        if self._bypass():
            return False
        if self._async_factory is None:
            return await asyncio.to_thread(self.store, key, value)
        try:
            await self._async_client().set(key, msgspec.json.encode(value), ex=self.ttl_s)
        except self._errors as exc:
            self._failed(exc)
            return False
        self._succeeded()
        return True

    # -- strict calls (warm-up, invalidation) -----------------------------------------------------
    def get(self, key: str) -> Optional[Recommendation]:
        raw = self.client.get(key)
        return None if raw is None else msgspec.json.decode(raw, type=Recommendation)

    def put(self, key: str, value: Recommendation) -> None:
        self.client.set(key, msgspec.json.encode(value), ex=self.ttl_s)

    def put_many(self, items: Sequence[tuple[str, Recommendation]]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for key, value in items:
            pipe.set(key, msgspec.json.encode(value), ex=self.ttl_s)
        pipe.execute()

    def drop_versions_except(self, version: str) -> int:
        """Delete cached lists of every other model version; returns how many keys went."""
        keep = f"{self.prefix}topn:{version}:"
        doomed = [
            k
            for k in self.client.scan_iter(match=f"{self.prefix}topn:*", count=1000)
            if not (k.decode() if isinstance(k, bytes) else k).startswith(keep)
        ]
        for start in range(0, len(doomed), 500):
            self.client.delete(*doomed[start : start + 500])
        return len(doomed)
