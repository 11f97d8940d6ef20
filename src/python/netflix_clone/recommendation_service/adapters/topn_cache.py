"""Redis cache of top-N lists, keyed by model version so a new model never serves stale lists."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Optional

import msgspec

from netflix_clone.recommendation_service.engine import Recommendation

__all__ = ["TopNCache"]


class TopNCache:
    def __init__(self, client: Any, *, prefix: str = "reco:", ttl_s: int = 3600) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl_s = ttl_s

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
