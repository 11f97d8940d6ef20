"""Offline evaluation: ALS against the popularity baseline on a held-out split.

With `tuning` options, ALS's parameters are chosen by `tuning.tune` on the *train* split alone (its
validation split is carved from it), then the chosen model is scored on the test split; the report
carries the search, and `als_fixed` scores the fixed parameters passed in on the same split, so the
gain of tuning is measured, not assumed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any, Optional

import numpy as np
import numpy.typing as npt

from netflix_clone.recommendation_service.adapters.history_sources import HistoryColumns
from netflix_clone.recommendation_service.domain.interactions import build_interactions
from netflix_clone.recommendation_service.domain.metrics import RankingMetrics, evaluate_rankings
from netflix_clone.recommendation_service.domain.model import RecommenderModel
from netflix_clone.recommendation_service.domain.ranking import top_n
from netflix_clone.recommendation_service.domain.splits import random_split, temporal_split
from netflix_clone.recommendation_service.training.als import AlsParams, ProgressFn, train_als
from netflix_clone.recommendation_service.training.tuning import TuningOptions, rank_top_k, tune

__all__ = ["EvaluationReport", "evaluate", "rank_all_users"]


@dataclass(frozen=True)
class EvaluationReport:
    split: str
    k: int
    train_rows: int
    test_rows: int
    als: RankingMetrics
    popularity: RankingMetrics
    params: Optional[dict[str, Any]] = None
    tuning: Optional[dict[str, Any]] = None
    als_fixed: Optional[RankingMetrics] = None
    fixed_params: Optional[dict[str, Any]] = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "split": self.split,
            "k": self.k,
            "train_rows": self.train_rows,
            "test_rows": self.test_rows,
            "als": self.als.as_dict(),
            "popularity": self.popularity.as_dict(),
            "als_beats_popularity": self.als.ndcg > self.popularity.ndcg,
            "params": self.params,
        }
        if self.tuning is not None:
            out["tuning"] = self.tuning
        if self.als_fixed is not None:
            out["als_fixed"] = {**self.als_fixed.as_dict(), "params": self.fixed_params}
        return out


def rank_all_users(
    model: RecommenderModel, users: list[int], k: int, *, baseline: bool = False
) -> dict[int, list[int]]:
    """Top-k per user (by index), excluding titles seen in training; popularity order when `baseline`."""
    if not baseline:
        return rank_top_k(model.user_factors, model.item_factors, model.seen, users, k)
    rankings: dict[int, list[int]] = {}
    for user in users:
        idx, _ = top_n(model.popularity, k, model.seen_items(user))
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
    tuning: Optional[TuningOptions] = None,
    compare_fixed: bool = True,
) -> EvaluationReport:
    if split == "random":
        train, test = random_split(history.user_id, history.title_id, fraction, seed=params.seed)
    elif split == "temporal":
        train, test = temporal_split(history.user_id, history.title_id, history.started_at, fraction)
    else:
        raise ValueError(f"unknown split {split!r} (random or temporal)")
    interactions = build_interactions(
        history.user_id[train],
        history.title_id[train],
        history.completion[train],
        history.started_at[train],
        min_completion=min_completion,
    )
    fixed_params = params
    search = None
    if tuning is not None:
        params, report = tune(interactions, params, tuning)
        search = report.as_dict()
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
        raise ValueError("the split left no test users with known titles; use more data or another split")
    als = evaluate_rankings(rank_all_users(model, users, k), held_out, model.n_items, k)
    pop = evaluate_rankings(rank_all_users(model, users, k, baseline=True), held_out, model.n_items, k)
    fixed = None
    if search is not None and compare_fixed:
        fixed_model = train_als(interactions, fixed_params, version="evaluation-fixed")
        fixed = evaluate_rankings(rank_all_users(fixed_model, users, k), held_out, model.n_items, k)
    return EvaluationReport(
        split,
        k,
        int(train.sum()),
        int(counted.sum()),
        als,
        pop,
        params=asdict(params),
        tuning=search,
        als_fixed=fixed,
        fixed_params=asdict(fixed_params) if fixed is not None else None,
    )
