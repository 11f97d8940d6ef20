"""Exact top-N selection and Maximal Marginal Relevance diversification over factor scores."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["mmr_rerank", "top_n"]

FloatArray = npt.NDArray[np.float32]
IndexArray = npt.NDArray[np.int64]


def top_n(scores: FloatArray, n: int, exclude: npt.ArrayLike = ()) -> tuple[IndexArray, FloatArray]:
    """Indices and scores of the `n` best items, best first, never returning an excluded index.

    argpartition makes this O(items) rather than a full sort; only the `n` winners are sorted.
    """
    if n <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    excluded = np.asarray(exclude, dtype=np.int64)
    if excluded.size:
        scores = scores.copy()
        scores[excluded] = -np.inf
    available = scores.size - int(np.unique(excluded).size) if excluded.size else scores.size
    n = min(n, available)
    if n <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    if n < scores.size:
        candidates = np.argpartition(-scores, n - 1)[:n]
    else:
        candidates = np.arange(scores.size)
    # Ties broken by index so results are deterministic.
    order = np.lexsort((candidates, -scores[candidates]))
    best = candidates[order].astype(np.int64)
    return best, scores[best].astype(np.float32)


def mmr_rerank(
    candidates: IndexArray,
    relevance: FloatArray,
    item_vectors: FloatArray,
    n: int,
    diversity: float,
) -> IndexArray:
    """Carbonell & Goldstein's MMR: repeatedly pick argmax (1-λ)·rel(i) − λ·max_{j∈S} cos(i, j).

    `diversity` is λ in [0, 1]: 0 returns the candidates in relevance order, 1 maximizes spread.
    Relevance is min-max scaled to [0, 1] so it is commensurable with cosine similarity.
    """
    if not 0.0 <= diversity <= 1.0:
        raise ValueError("diversity must be in [0, 1]")
    n = min(n, candidates.size)
    if n == 0:
        return candidates[:0]
    rel = relevance.astype(np.float64)
    span = float(rel.max() - rel.min())
    rel = (rel - rel.min()) / span if span > 0 else np.ones_like(rel)
    vecs = item_vectors[candidates].astype(np.float64)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    vecs = vecs / np.where(norms == 0, 1.0, norms)
    sims = vecs @ vecs.T

    chosen: list[int] = []
    max_sim = np.full(candidates.size, -np.inf)
    remaining = np.ones(candidates.size, dtype=bool)
    for _ in range(n):
        penalty = np.where(np.isfinite(max_sim), max_sim, 0.0)
        objective = (1.0 - diversity) * rel - diversity * penalty
        objective[~remaining] = -np.inf
        pick = int(np.argmax(objective))
        chosen.append(pick)
        remaining[pick] = False
        max_sim = np.maximum(max_sim, sims[pick])
    return candidates[np.asarray(chosen, dtype=np.int64)]
