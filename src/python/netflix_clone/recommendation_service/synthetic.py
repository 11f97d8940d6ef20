"""Synthetic viewing history with planted structure, for tests, benchmarks and demos.

Titles belong to genres; each user loves one or two genres. 80 % of a user's sessions pick a title from a
loved genre (Zipf-weighted within it) and finish most of it; 20 % pick from the whole catalog by global
popularity and are often abandoned early. A good recommender must find the genre structure; global
popularity cannot.
"""

from __future__ import annotations

import numpy as np

from netflix_clone.recommendation_service.adapters.history_sources import HistoryColumns

__all__ = ["synthetic_history"]


def synthetic_history(
    *,
    users: int = 1000,
    items: int = 500,
    genres: int = 10,
    sessions_per_user: int = 30,
    seed: int = 7,
    start: float = 1_790_000_000.0,
    days: float = 30.0,
) -> HistoryColumns:
    if genres < 1 or items < genres or users < 1 or sessions_per_user < 1:
        raise ValueError("need users, sessions >= 1 and items >= genres >= 1")
    rng = np.random.default_rng(seed)
    item_genre = rng.integers(0, genres, size=items)
    zipf = 1.0 / np.arange(1, items + 1) ** 0.8
    global_pop = zipf[rng.permutation(items)]
    global_pop /= global_pop.sum()
    by_genre = [np.flatnonzero(item_genre == g) for g in range(genres)]
    genre_weights = [global_pop[idx] / global_pop[idx].sum() if idx.size else idx for idx in by_genre]

    n = users * sessions_per_user
    user_col = np.repeat(np.arange(users), sessions_per_user)
    loved = rng.integers(0, genres, size=(users, 2))
    second = rng.random(users) < 0.5
    pick_loved = rng.random(n) < 0.8
    which = np.where(second[user_col] & (rng.random(n) < 0.5), loved[user_col, 1], loved[user_col, 0])
    titles = np.empty(n, dtype=np.int64)
    completion = np.empty(n, dtype=np.float64)
    for g in range(genres):
        rows = np.flatnonzero(pick_loved & (which == g))
        if by_genre[g].size == 0:
            pick_loved[rows] = False
            continue
        titles[rows] = rng.choice(by_genre[g], size=rows.size, p=genre_weights[g])
        completion[rows] = rng.uniform(0.6, 1.0, size=rows.size)
    rest = np.flatnonzero(~pick_loved)
    titles[rest] = rng.choice(items, size=rest.size, p=global_pop)
    completion[rest] = np.where(
        rng.random(rest.size) < 0.6,
        rng.uniform(0.0, 0.3, rest.size),
        rng.uniform(0.3, 1.0, rest.size),
    )
    started = start + rng.uniform(0, days * 86400, size=n)
    order = np.argsort(started, kind="stable")
    width_u, width_i = len(str(users)), len(str(items))
    user_ids = np.char.add("u", np.char.zfill(user_col[order].astype(str), width_u))
    title_ids = np.char.add("t", np.char.zfill(titles[order].astype(str), width_i))
    return HistoryColumns(user_ids, title_ids, np.round(completion[order], 4), np.round(started[order], 3))
