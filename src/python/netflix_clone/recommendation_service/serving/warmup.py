"""Cache warm-up for deploys: precompute top-N for the most active users into Redis."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from netflix_clone.recommendation_service.adapters.topn_cache import TopNCache
from netflix_clone.recommendation_service.domain.recommendation import ProgressFn
from netflix_clone.recommendation_service.serving.recommender import Recommender

__all__ = ["WarmupReport", "warm_cache"]


@dataclass(frozen=True)
class WarmupReport:
    model_version: str
    users: int
    n: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "users": self.users,
            "n": self.n,
            "seconds": round(self.seconds, 3),
        }


def warm_cache(
    recommender: Recommender,
    cache: TopNCache,
    *,
    top_users: int = 10_000,
    n: int = 10,
    batch: int = 500,
    progress: Optional[ProgressFn] = None,
) -> WarmupReport:
    started = time.perf_counter()
    model = recommender.model
    activity = np.diff(model.seen.indptr)
    chosen = np.lexsort((np.arange(activity.size), -activity))[: min(top_users, activity.size)]
    users = model.user_ids[chosen].tolist()
    for start in range(0, len(users), batch):
        entries = []
        for user in users[start : start + batch]:
            key = cache.key(recommender.version, user, n, True, (), 0.0)
            entries.append((key, recommender.recommend(user, n)))
        cache.put_many(entries)
        if progress is not None:
            progress(min(start + batch, len(users)), len(users), time.perf_counter() - started)
    cache.drop_versions_except(recommender.version)
    return WarmupReport(recommender.version, len(users), n, time.perf_counter() - started)
