"""A small trained model for service-level tests (trained once per test module)."""

from __future__ import annotations

from pathlib import Path

from netflix_clone.recommendation_service.synthetic import synthetic_history
from netflix_clone.recommendation_service.training.als import AlsParams
from netflix_clone.recommendation_service.training.train import TrainOptions, TrainResult, train_and_save


def train_small(root: Path, seed: int = 42, ann_threshold: int = 100_000) -> TrainResult:
    history = synthetic_history(users=300, items=200, sessions_per_user=20, seed=seed)
    options = TrainOptions(
        params=AlsParams(factors=16, iterations=6, seed=seed),
        ann_threshold=ann_threshold,
        evaluate=False,
    )
    return train_and_save(history, root, options)
