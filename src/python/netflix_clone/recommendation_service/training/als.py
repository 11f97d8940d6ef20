"""ALS training on implicit feedback through `implicit`'s CPU solver (conjugate gradient).

Confidence follows Hu, Koren & Volinsky (2008): c_ui = 1 + alpha * r_ui on observed pairs, 1 elsewhere.
implicit 0.7 treats the matrix values themselves as c_ui (and would multiply them by its own `alpha`), so
the confidence matrix is built here and implicit's alpha stays 1.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Any, Optional

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from netflix_clone.recommendation_service.adapters.artifacts import new_version
from netflix_clone.recommendation_service.domain.interactions import Interactions, popularity_scores, trending_scores
from netflix_clone.recommendation_service.domain.model import FORMAT_VERSION, RecommenderModel
from netflix_clone.recommendation_service.domain.recommendation import ProgressFn

__all__ = ["AlsParams", "ProgressFn", "confidence_matrix", "train_als"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlsParams:
    factors: int = 64
    regularization: float = 0.05
    alpha: float = 20.0
    iterations: int = 15
    seed: int = 42
    threads: int = 1  # >1 is faster, and still deterministic: each row's solve is independent

    def __post_init__(self) -> None:
        if self.factors < 1 or self.iterations < 1 or self.threads < 1:
            raise ValueError("factors, iterations and threads must be at least 1")
        if self.regularization < 0 or self.alpha <= 0:
            raise ValueError("regularization must be >= 0 and alpha > 0")


def confidence_matrix(strength: sp.csr_matrix, alpha: float) -> sp.csr_matrix:
    confidence = strength.astype(np.float32, copy=True)
    confidence.data = 1.0 + np.float32(alpha) * confidence.data
    return confidence


def train_als(
    interactions: Interactions,
    params: AlsParams,
    *,
    progress: Optional[ProgressFn] = None,
    version: Optional[str] = None,
) -> RecommenderModel:
    from implicit.cpu.als import AlternatingLeastSquares

    started = time.perf_counter()

    def _callback(iteration: int, _elapsed: float, _loss: Any) -> None:
        if progress is not None:
            progress(iteration + 1, params.iterations, time.perf_counter() - started)

    # BLAS threads fight implicit's own threads; pin BLAS to one (implicit checks this on construction).
    with threadpool_limits(limits=1, user_api="blas"):
        model = AlternatingLeastSquares(
            factors=params.factors,
            regularization=params.regularization,
            alpha=1.0,
            iterations=params.iterations,
            random_state=params.seed,
            num_threads=params.threads,
            dtype=np.float32,
        )
        model.fit(
            confidence_matrix(interactions.matrix, params.alpha),
            show_progress=False,
            callback=_callback,
        )
    seconds = time.perf_counter() - started
    _log.info(
        "trained ALS in %.2fs",
        seconds,
        extra={"users": interactions.n_users, "items": interactions.n_items},
    )

    seen = interactions.matrix.copy()
    seen.data = np.ones_like(seen.data)
    created = time.time()
    return RecommenderModel(
        version=version or new_version(interactions.data_hash, created),
        user_ids=interactions.user_ids,
        item_ids=interactions.item_ids,
        user_factors=np.ascontiguousarray(model.user_factors, dtype=np.float32),
        item_factors=np.ascontiguousarray(model.item_factors, dtype=np.float32),
        popularity=popularity_scores(interactions),
        trending=trending_scores(interactions),
        seen=seen.astype(np.float32),
        metadata={
            "format_version": FORMAT_VERSION,
            "created_at": created,
            "data_hash": interactions.data_hash,
            "params": asdict(params),
            "train_seconds": round(seconds, 3),
            "n_users": interactions.n_users,
            "n_items": interactions.n_items,
            "n_interactions": int(interactions.matrix.nnz),
        },
    )
