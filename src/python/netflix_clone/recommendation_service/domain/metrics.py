"""Offline ranking metrics at a cutoff k, averaged over users with at least one held-out item.

For one user with ranked list L (length ≤ k) and relevant set R:
- Recall@k = |L ∩ R| / |R|  (the common definition: a user with more than k relevant items cannot
  reach 1)
- normalized Recall@k = |L ∩ R| / min(k, |R|)  (a perfect list scores 1 even when |R| > k; reported
  separately as `normalized_recall@k`, never under the name Recall@k)
- NDCG@k   = DCG / IDCG with DCG = Σ_{i: L_i ∈ R} 1/log2(i + 2), IDCG the DCG of min(k, |R|) hits
- AP@k     = (1 / min(k, |R|)) Σ_{i: L_i ∈ R} precision@(i + 1); MAP@k averages AP@k
Worked example: L = [a, b, c], R = {a, c, d}, k = 3: Recall = 2/3 (normalized Recall 2/3 too; with
k = 2, L = [a, b]: Recall = 1/3, normalized Recall = 1/2); DCG = 1 + 1/2 = 1.5,
IDCG = 1 + 0.631 + 0.5 = 2.131, NDCG = 0.704; AP = (1/1 + 2/3) / 3 = 0.556.
Catalog coverage = distinct items recommended across all users / catalog size.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "RankingMetrics",
    "average_precision_at_k",
    "evaluate_rankings",
    "ndcg_at_k",
    "normalized_recall_at_k",
    "recall_at_k",
]


def recall_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    """hits / |relevant|.

    >>> recall_at_k([3, 1, 7], {1, 2, 5, 9}, k=3)
    0.25
    """
    if not relevant:
        raise ValueError("recall is undefined without relevant items")
    hits = sum(1 for item in ranked[:k] if item in relevant)
    return hits / len(relevant)


def normalized_recall_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    """hits / min(k, |relevant|): 1 for a perfect list whatever |relevant| is.

    >>> normalized_recall_at_k([1, 2], {1, 2, 5, 9}, k=2)
    1.0
    """
    if not relevant:
        raise ValueError("recall is undefined without relevant items")
    hits = sum(1 for item in ranked[:k] if item in relevant)
    return hits / min(k, len(relevant))


def ndcg_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    """Discounted cumulative gain over the ideal one: a hit at rank 1 counts more than at rank 2.

    >>> ndcg_at_k([1, 4], {1}, k=2), round(ndcg_at_k([4, 1], {1}, k=2), 4)
    (1.0, 0.6309)
    """
    if not relevant:
        raise ValueError("NDCG is undefined without relevant items")
    dcg = sum(1.0 / math.log2(i + 2) for i, item in enumerate(ranked[:k]) if item in relevant)
    idcg = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / idcg


def average_precision_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    if not relevant:
        raise ValueError("average precision is undefined without relevant items")
    hits = 0
    total = 0.0
    for i, item in enumerate(ranked[:k]):
        if item in relevant:
            hits += 1
            total += hits / (i + 1)
    return total / min(k, len(relevant))


@dataclass(frozen=True)
class RankingMetrics:
    k: int
    users: int
    ndcg: float
    recall: float
    map: float
    coverage: float
    normalized_recall: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            f"ndcg@{self.k}": round(self.ndcg, 6),
            f"recall@{self.k}": round(self.recall, 6),
            f"normalized_recall@{self.k}": round(self.normalized_recall, 6),
            f"map@{self.k}": round(self.map, 6),
            "coverage": round(self.coverage, 6),
            "users": self.users,
        }


def evaluate_rankings(
    rankings: Mapping[int, Sequence[int]],
    held_out: Mapping[int, Iterable[int]],
    n_items: int,
    k: int = 10,
) -> RankingMetrics:
    users = [u for u, items in held_out.items() if items]
    if not users:
        raise ValueError("no user has held-out items to evaluate against")
    ndcg = recall = normalized = ap = 0.0
    recommended: set[int] = set()
    for user in users:
        relevant = set(held_out[user])
        ranked = list(rankings.get(user, ()))[:k]
        recommended.update(ranked)
        ndcg += ndcg_at_k(ranked, relevant, k)
        recall += recall_at_k(ranked, relevant, k)
        normalized += normalized_recall_at_k(ranked, relevant, k)
        ap += average_precision_at_k(ranked, relevant, k)
    count = len(users)
    return RankingMetrics(
        k,
        count,
        ndcg / count,
        recall / count,
        ap / count,
        len(recommended) / n_items,
        normalized / count,
    )
