"""Train/test splits of viewing history by (user, title) pair, so no pair leaks across the split.

- random: a seeded fraction of pairs goes to test.
- temporal: sessions after the (1 - fraction) quantile of start time go to test, minus pairs the user
  already watched before the cutoff (re-watches say little about recommending something new).
Test rows of users absent from train are dropped: a factor model cannot score them (cold start is
measured separately).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["random_split", "temporal_split"]

Mask = npt.NDArray[np.bool_]


def _pair_codes(users: npt.NDArray[np.str_], items: npt.NDArray[np.str_]) -> npt.NDArray[np.intp]:
    _, user_codes = np.unique(users, return_inverse=True)
    _, item_codes = np.unique(items, return_inverse=True)
    return user_codes.astype(np.intp) * (int(item_codes.max(initial=0)) + 1) + item_codes


def _drop_cold_users(users: npt.NDArray[np.str_], test: Mask) -> Mask:
    known = np.isin(users, np.unique(users[~test]))
    return test & known


def random_split(
    users: npt.NDArray[np.str_], items: npt.NDArray[np.str_], fraction: float = 0.2, seed: int = 0
) -> tuple[Mask, Mask]:
    """Boolean masks (train, test) over the rows; no row is in both, and a pair never straddles them.

    >>> users = np.array(["a", "a", "a", "b", "b", "b"])
    >>> items = np.array(["x", "y", "z", "x", "y", "z"])
    >>> train, test = random_split(users, items, fraction=0.3, seed=1)
    >>> bool((train & test).any())
    False
    """
    if not 0 < fraction < 1:
        raise ValueError("fraction must be in (0, 1)")
    pairs = _pair_codes(users, items)
    unique_pairs = np.unique(pairs)
    rng = np.random.default_rng(seed)
    chosen = unique_pairs[rng.random(unique_pairs.size) < fraction]
    test = np.isin(pairs, chosen)
    train = ~test
    return train, _drop_cold_users(users, test)


def temporal_split(
    users: npt.NDArray[np.str_],
    items: npt.NDArray[np.str_],
    started_at: npt.NDArray[np.float64],
    fraction: float = 0.2,
) -> tuple[Mask, Mask]:
    if not 0 < fraction < 1:
        raise ValueError("fraction must be in (0, 1)")
    cutoff = float(np.quantile(started_at, 1 - fraction))
    train = started_at < cutoff
    pairs = _pair_codes(users, items)
    test = ~train & ~np.isin(pairs, pairs[train])
    return train, _drop_cold_users(users, test)
