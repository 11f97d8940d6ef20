"""Serving-time recommender: scores, top-N, cold start, diversification and similar titles.

Everything a request needs is precomputed at load (id maps, normalized item vectors, ANN indexes), so a
request is one dot product or one matrix-vector product plus a partial sort.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import numpy as np
import numpy.typing as npt

from netflix_clone.recommendation_service.adapters.hnsw_index import AnnIndex
from netflix_clone.recommendation_service.domain.model import RecommenderModel
from netflix_clone.recommendation_service.domain.ranking import mmr_rerank, top_n
from netflix_clone.recommendation_service.domain.recommendation import Recommendation
from netflix_clone.recommendation_service.errors import UnknownItem, UnknownUser

__all__ = ["Recommender"]


class Recommender:
    def __init__(
        self,
        model: RecommenderModel,
        *,
        ann: Optional[AnnIndex] = None,
        similar_ann: Optional[AnnIndex] = None,
        cold_start: str = "popularity",
        unit_items: Optional[npt.NDArray[np.float32]] = None,
    ) -> None:
        if cold_start not in ("popularity", "trending"):
            raise ValueError("cold_start must be 'popularity' or 'trending'")
        self.model = model
        self.ann = ann
        self.similar_ann = similar_ann
        self.cold_start = cold_start
        self._users = {u: i for i, u in enumerate(model.user_ids.tolist())}
        self._items = {t: i for i, t in enumerate(model.item_ids.tolist())}
        self._item_ids: list[str] = model.item_ids.tolist()
        # Plain ndarray views of (possibly memory-mapped) arrays: no copy, shared between workers.
        self._user_factors = np.asarray(model.user_factors)
        self._item_factors = np.asarray(model.item_factors)
        if unit_items is None:
            norms = np.linalg.norm(self._item_factors, axis=1, keepdims=True)
            unit_items = (self._item_factors / np.where(norms == 0, 1.0, norms)).astype(np.float32)
        self._unit_items = np.asarray(unit_items)
        cold = model.popularity if cold_start == "popularity" else model.trending
        self._cold_order = np.lexsort((np.arange(cold.size), -cold)).astype(np.int64)
        self._cold_scores = cold

    @property
    def version(self) -> str:
        return self.model.version

    def knows_user(self, user: str) -> bool:
        return user in self._users

    def user_index(self, user: str) -> int:
        try:
            return self._users[user]
        except KeyError:
            raise UnknownUser(user) from None

    def item_index(self, item: str) -> int:
        try:
            return self._items[item]
        except KeyError:
            raise UnknownItem(item) from None

    def score(self, user: str, item: str) -> float:
        u, i = self.user_index(user), self.item_index(item)
        return float(self._user_factors[u].dot(self._item_factors[i]))

    def score_indices(self, users: npt.NDArray[np.int64], items: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        """Vectorized scores for aligned (user index, item index) pairs."""
        uf, itf = self._user_factors, self._item_factors
        scores: npt.NDArray[np.float32] = np.einsum("ij,ij->i", uf[users], itf[items]).astype(np.float32)
        return scores

    def scores(self, user: str, items: Sequence[str]) -> list[float]:
        u = self.user_index(user)
        idx = np.fromiter((self.item_index(i) for i in items), dtype=np.int64, count=len(items))
        values = self._item_factors[idx] @ self._user_factors[u]
        return [float(v) for v in values]

    def recommend(
        self,
        user: str,
        n: int = 10,
        *,
        exclude_seen: bool = True,
        exclude: Sequence[str] = (),
        diversity: float = 0.0,
    ) -> Recommendation:
        items = self._items
        explicit = [items[t] for t in exclude if t in items]
        u = self._users.get(user)
        if u is None:
            return self._cold(n, explicit)
        excluded: npt.NDArray[np.int64] = np.asarray(explicit, dtype=np.int64)
        if exclude_seen:
            seen = self.model.seen_items(u).astype(np.int64, copy=False)
            excluded = np.concatenate((excluded, seen)) if excluded.size else seen
        vector = self._user_factors[u]
        pool = n if diversity == 0 else max(n * 5, 50)
        if self.ann is not None:
            idx, scores = _ann_top(self.ann, vector, pool, excluded.tolist())
            strategy = "als-ann"
        else:
            idx, scores = top_n(self._item_factors @ vector, pool, excluded)
            strategy = "als-exact"
        if diversity > 0 and idx.size:
            chosen = mmr_rerank(idx, scores, self._item_factors, n, diversity)
            lookup = dict(zip(idx.tolist(), scores.tolist()))
            return self._result(chosen.tolist(), [lookup[i] for i in chosen.tolist()], strategy)
        return self._result(idx[:n].tolist(), scores[:n].tolist(), strategy)

    def similar(self, item: str, n: int = 10) -> Recommendation:
        i = self.item_index(item)
        vector = self._unit_items[i]
        if self.similar_ann is not None:
            idx, scores = _ann_top(self.similar_ann, vector, n, [i])
            strategy = "cosine-ann"
        else:
            idx, scores = top_n(self._unit_items @ vector, n, [i])
            strategy = "cosine-exact"
        return self._result(idx.tolist(), scores.tolist(), strategy)

    def _cold(self, n: int, excluded: list[int]) -> Recommendation:
        blocked = set(excluded)
        chosen: list[int] = []
        for i in self._cold_order.tolist():
            if i not in blocked:
                chosen.append(i)
                if len(chosen) == n:
                    break
        return self._result(chosen, [float(self._cold_scores[i]) for i in chosen], self.cold_start)

    def _result(self, idx: list[int], scores: list[float], strategy: str) -> Recommendation:
        return Recommendation([self._item_ids[i] for i in idx], scores, strategy, self.model.version)


def _ann_top(
    index: AnnIndex, vector: npt.NDArray[np.float32], n: int, excluded: list[int]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """The n best unexcluded items. Asking the graph for n + |excluded| neighbours guarantees n
    survivors but widens every search (a user's ~40 seen titles make k 5x larger); most excluded titles
    are nowhere near the top, so a narrow query comes first and the wide one only when it falls short.
    """
    blocked = set(excluded)
    wide = n + len(blocked)
    narrow = min(wide, max(2 * n, n + 8))
    for k in (narrow, wide) if narrow < wide else (wide,):
        labels, scores = index.query(vector, k)
        keep = np.fromiter((label not in blocked for label in labels.tolist()), dtype=bool, count=labels.size)
        if int(keep.sum()) >= n or k == wide:
            return labels[keep][:n], scores[keep][:n]
    raise AssertionError("unreachable")  # pragma: no cover
