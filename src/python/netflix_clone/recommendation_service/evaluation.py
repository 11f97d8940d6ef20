"""Offline evaluation: ALS against the popularity baseline on a held-out split."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import numpy.typing as npt

from netflix_clone.recommendation_service.adapters.history_sources import HistoryColumns
from netflix_clone.recommendation_service.domain.interactions import build_interactions
from netflix_clone.recommendation_service.domain.metrics import RankingMetrics, evaluate_rankings
from netflix_clone.recommendation_service.domain.model import RecommenderModel
from netflix_clone.recommendation_service.domain.ranking import top_n
from netflix_clone.recommendation_service.domain.splits import random_split, temporal_split
from netflix_clone.recommendation_service.training import AlsParams, ProgressFn, train_als

__all__ = ["EvaluationReport", "evaluate", "rank_all_users"]


@dataclass(frozen=True)
class EvaluationReport:
    split: str
    k: int
    train_rows: int
    test_rows: int
    als: RankingMetrics
    popularity: RankingMetrics

    def as_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "k": self.k,
            "train_rows": self.train_rows,
            "test_rows": self.test_rows,
            "als": self.als.as_dict(),
            "popularity": self.popularity.as_dict(),
            "als_beats_popularity": self.als.ndcg > self.popularity.ndcg,
        }


def rank_all_users(
    model: RecommenderModel, users: list[int], k: int, *, baseline: bool = False
) -> dict[int, list[int]]:
    """Top-k per user (by index), excluding titles seen in training; popularity order when `baseline`."""
    rankings: dict[int, list[int]] = {}
    for user in users:
        scores = model.popularity if baseline else model.item_factors @ model.user_factors[user]
        idx, _ = top_n(scores, k, model.seen_items(user))
        rankings[user] = idx.tolist()
    return rankings


def evaluate(
    history: HistoryColumns,
    params: AlsParams,
    *,
    split: str = "random",
    fraction: float = 0.2,
    k: int = 10,
    min_completion: float = 0.05,
    progress: Optional[ProgressFn] = None,
) -> EvaluationReport:
    if split == "random":
        train, test = random_split(history.user_id, history.title_id, fraction, seed=params.seed)
    elif split == "temporal":
        train, test = temporal_split(
            history.user_id, history.title_id, history.started_at, fraction
        )
    else:
        raise ValueError(f"unknown split {split!r} (random or temporal)")
    interactions = build_interactions(
        history.user_id[train],
        history.title_id[train],
        history.completion[train],
        history.started_at[train],
        min_completion=min_completion,
    )
    model = train_als(interactions, params, progress=progress, version="evaluation")
    user_pos = {u: i for i, u in enumerate(model.user_ids.tolist())}
    item_pos = {t: i for i, t in enumerate(model.item_ids.tolist())}
    held_out: dict[int, set[int]] = defaultdict(set)
    counted: npt.NDArray[np.bool_] = test & (history.completion >= min_completion)
    for user, title in zip(history.user_id[counted].tolist(), history.title_id[counted].tolist()):
        if user in user_pos and title in item_pos:  # titles new in the test period cannot be ranked
            held_out[user_pos[user]].add(item_pos[title])
    users = sorted(held_out)
    if not users:
        raise ValueError(
            "the split left no test users with known titles; use more data or another split"
        )
    als = evaluate_rankings(rank_all_users(model, users, k), held_out, model.n_items, k)
    pop = evaluate_rankings(
        rank_all_users(model, users, k, baseline=True), held_out, model.n_items, k
    )
    return EvaluationReport(split, k, int(train.sum()), int(counted.sum()), als, pop)
