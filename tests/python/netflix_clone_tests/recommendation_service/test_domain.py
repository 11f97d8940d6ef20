"""Pure domain: interactions, ranking, MMR, metrics (with the documented worked examples), splits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netflix_clone.recommendation_service.domain.interactions import (
    build_interactions,
    popularity_scores,
    trending_scores,
)
from netflix_clone.recommendation_service.domain.metrics import (
    average_precision_at_k,
    evaluate_rankings,
    ndcg_at_k,
    normalized_recall_at_k,
    recall_at_k,
)
from netflix_clone.recommendation_service.domain.ranking import mmr_rerank, top_n
from netflix_clone.recommendation_service.domain.splits import random_split, temporal_split
from netflix_clone.recommendation_service.training.als import confidence_matrix


def test_interactions_worked_example() -> None:
    inter = build_interactions(
        ["u", "u", "u", "v"],
        ["t", "t", "t", "t"],
        [0.9, 0.6, 0.02, 0.5],
        [10.0, 20.0, 30.0, 5.0],
        min_completion=0.05,
        max_strength=3.0,
    )
    assert inter.user_ids.tolist() == ["u", "v"]
    assert inter.matrix[0, 0] == pytest.approx(1.5)
    assert confidence_matrix(inter.matrix, alpha=40.0)[0, 0] == pytest.approx(61.0)
    # The 0.02 session does not count, so u's last counted session is at t=20.
    assert inter.last_seen[0, 0] == 20.0


def test_strength_is_capped_and_hash_tracks_the_data() -> None:
    a = build_interactions(["u"] * 10, ["t"] * 10, [1.0] * 10, list(range(10)), max_strength=5.0)
    b = build_interactions(["u"] * 10, ["t"] * 10, [1.0] * 9 + [0.9], list(range(10)), max_strength=5.0)
    assert a.matrix[0, 0] == 5.0
    assert a.data_hash != b.data_hash


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"completion": [1.5]}, r"\[0, 1\]"),
        ({"completion": [0.01]}, "nothing to train on"),
        ({"user_ids": ["u", "v"]}, "equal length"),
    ],
)
def test_bad_interaction_input_is_rejected(kwargs: dict, message: str) -> None:
    args = {
        "user_ids": ["u"],
        "item_ids": ["t"],
        "completion": [0.5],
        "started_at": [1.0],
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        build_interactions(**args)


def test_popularity_counts_distinct_viewers_and_trending_decays() -> None:
    day = 86400.0
    inter = build_interactions(
        ["a", "a", "b", "c", "c"],
        ["old", "old", "old", "new", "old"],
        [1, 1, 1, 1, 1],
        [0, 1, 2, 10 * day, 3],
    )
    pop = dict(zip(inter.item_ids.tolist(), popularity_scores(inter).tolist()))
    assert pop == {"new": 1.0, "old": 3.0}
    trend = dict(zip(inter.item_ids.tolist(), trending_scores(inter, half_life_s=day).tolist()))
    assert trend["new"] == pytest.approx(1.0)
    assert trend["old"] < 0.01  # three viewers, but ten half-lives ago


@settings(max_examples=150, deadline=None)
@given(
    size=st.integers(1, 3000),
    n=st.integers(1, 80),
    rounding=st.sampled_from([None, 0, 1]),
    excluded_fraction=st.floats(0, 0.5),
    seed=st.integers(0, 2**16),
)
def test_top_n_matches_a_full_sort(
    size: int, n: int, rounding: int | None, excluded_fraction: float, seed: int
) -> None:
    """The block-maximum shortcut returns exactly what a full stable sort would (ties by index)."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=size).astype(np.float32)
    if rounding is not None:
        scores = np.round(scores, rounding)  # many ties
    excluded = rng.integers(0, size, int(size * excluded_fraction))
    blocked = scores.copy()
    blocked[excluded] = -np.inf
    expected = [i for i in np.lexsort((np.arange(size), -blocked)) if np.isfinite(blocked[i])][:n]
    idx, values = top_n(scores, n, excluded)
    assert idx.tolist() == expected
    np.testing.assert_array_equal(values, scores[expected])


def test_top_n_excludes_orders_and_breaks_ties_by_index() -> None:
    scores = np.array([0.5, 0.9, 0.9, 0.1, 0.7], dtype=np.float32)
    idx, vals = top_n(scores, 3, exclude=[4])
    assert idx.tolist() == [1, 2, 0]
    assert vals.tolist() == pytest.approx([0.9, 0.9, 0.5])
    assert top_n(scores, 10, exclude=[0, 1, 2, 3, 4])[0].size == 0
    assert top_n(scores, 10)[0].tolist() == [1, 2, 4, 0, 3]


def test_mmr_trades_relevance_for_spread() -> None:
    vectors = np.array([[1, 0], [0.99, 0.01], [0, 1]], dtype=np.float32)
    candidates = np.array([0, 1, 2])
    relevance = np.array([1.0, 0.95, 0.5], dtype=np.float32)
    assert mmr_rerank(candidates, relevance, vectors, 2, 0.0).tolist() == [0, 1]
    assert mmr_rerank(candidates, relevance, vectors, 2, 0.7).tolist() == [0, 2]
    with pytest.raises(ValueError):
        mmr_rerank(candidates, relevance, vectors, 2, 1.5)


def test_metrics_worked_example() -> None:
    ranked, relevant = [1, 2, 3], {1, 3, 4}
    assert recall_at_k(ranked, relevant, 3) == pytest.approx(2 / 3)
    assert ndcg_at_k(ranked, relevant, 3) == pytest.approx(1.5 / (1 + 1 / np.log2(3) + 0.5), abs=1e-9)
    assert average_precision_at_k(ranked, relevant, 3) == pytest.approx((1 + 2 / 3) / 3)
    # Recall@k is hits / |relevant| (the common definition); the normalized variant caps |R| at k.
    assert recall_at_k([1, 2], relevant, 2) == pytest.approx(1 / 3)
    assert normalized_recall_at_k([1, 2], relevant, 2) == pytest.approx(1 / 2)
    many = evaluate_rankings({0: [1, 3]}, {0: [1, 3, 4, 5]}, n_items=10, k=2)
    assert (many.recall, many.normalized_recall) == (0.5, 1.0)
    assert many.as_dict()["recall@2"] == 0.5 and many.as_dict()["normalized_recall@2"] == 1.0
    perfect = evaluate_rankings({0: [1, 3, 4]}, {0: [1, 3, 4]}, n_items=10, k=3)
    assert (perfect.ndcg, perfect.recall, perfect.map, perfect.coverage) == (1.0, 1.0, 1.0, 0.3)
    with pytest.raises(ValueError):
        evaluate_rankings({}, {0: []}, n_items=3)


def test_random_split_keeps_pairs_together_and_drops_cold_users() -> None:
    users = np.array(["a", "a", "a", "b", "b", "c"])
    items = np.array(["x", "x", "y", "x", "z", "q"])
    train, test = random_split(users, items, fraction=0.5, seed=3)
    pairs = list(zip(users, items))
    for i, p in enumerate(pairs):
        for j, q in enumerate(pairs):
            if p == q:
                assert train[i] == train[j]
    assert not (train & test).any()
    assert set(users[test]) <= set(users[train])


def test_temporal_split_holds_out_only_new_titles_after_the_cutoff() -> None:
    users = np.array(["a", "a", "a", "a", "b"])
    items = np.array(["x", "y", "x", "z", "x"])
    started = np.array([1.0, 2.0, 9.0, 10.0, 11.0])
    train, test = temporal_split(users, items, started, fraction=0.4)
    assert train.tolist() == [True, True, True, False, False]
    # a re-watching x after the cutoff is not held out; z is; b has no training history.
    assert test.tolist() == [False, False, False, True, False]
