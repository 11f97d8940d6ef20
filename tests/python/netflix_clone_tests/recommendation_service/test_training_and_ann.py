"""Training determinism, ALS beating popularity on planted structure, ANN recall."""

from __future__ import annotations

import re

import numpy as np

from netflix_clone.recommendation_service.adapters.hnsw_index import build_ann_index, exact_recall_at_k
from netflix_clone.recommendation_service.domain.interactions import build_interactions
from netflix_clone.recommendation_service.synthetic import synthetic_history
from netflix_clone.recommendation_service.training.als import AlsParams, train_als
from netflix_clone.recommendation_service.training.evaluation import evaluate

HISTORY = synthetic_history(users=600, items=300, sessions_per_user=25, seed=11)


def _interactions():
    return build_interactions(HISTORY.user_id, HISTORY.title_id, HISTORY.completion, HISTORY.started_at)


def test_training_is_deterministic_under_a_seed_even_with_threads() -> None:
    params = AlsParams(factors=16, iterations=5, seed=123, threads=2)
    first = train_als(_interactions(), params, version="a")
    second = train_als(_interactions(), params, version="b")
    np.testing.assert_array_equal(first.user_factors, second.user_factors)
    np.testing.assert_array_equal(first.item_factors, second.item_factors)
    other = train_als(_interactions(), AlsParams(factors=16, iterations=5, seed=124), version="c")
    assert not np.array_equal(first.item_factors, other.item_factors)


def test_progress_is_reported_every_iteration() -> None:
    seen: list[tuple[int, int]] = []
    train_als(
        _interactions(),
        AlsParams(factors=8, iterations=4),
        progress=lambda i, n, _: seen.append((i, n)),
    )
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_model_metadata_records_data_hash_and_parameters() -> None:
    model = train_als(_interactions(), AlsParams(factors=8, iterations=2))
    assert model.metadata["data_hash"] == _interactions().data_hash
    assert model.metadata["params"]["factors"] == 8
    # YYYYmmddTHHMMSS.ffffffZ-<data hash>-<random>: unique well below the second.
    assert re.fullmatch(rf"\d{{8}}T\d{{6}}\.\d{{6}}Z-{model.metadata['data_hash'][:8]}-[0-9a-f]{{4}}", model.version)
    assert train_als(_interactions(), AlsParams(factors=8, iterations=2)).version != model.version


def test_als_beats_popularity_on_planted_structure_in_both_splits() -> None:
    params = AlsParams(factors=32, iterations=10, threads=2)
    for split in ("random", "temporal"):
        report = evaluate(HISTORY, params, split=split)
        assert report.als.ndcg > 1.2 * report.popularity.ndcg, report.as_dict()
        assert report.als.recall > report.popularity.recall
        assert report.als.coverage > report.popularity.coverage


def test_ann_index_reaches_its_recall_target_against_exact_search() -> None:
    rng = np.random.default_rng(0)
    items = rng.normal(size=(20_000, 32)).astype(np.float32)
    users = rng.normal(size=(500, 32)).astype(np.float32)
    index, report = build_ann_index(items, users, target_recall=0.95, sample_queries=100, seed=1)
    assert report.recall_at_10 >= 0.95
    held_out = rng.normal(size=(100, 32)).astype(np.float32)  # queries the tuning never saw
    assert exact_recall_at_k(index, items, held_out) >= 0.9
