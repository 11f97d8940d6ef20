"""From viewing records to the implicit-feedback matrix of Hu, Koren & Volinsky (2008).

Each (user, title) pair gets a strength r = sum over sessions of completion, counting only sessions past
`min_completion` (a few seconds of a trailer is not a preference) and capped at `max_strength` (a child
replaying one episode all day should not dominate). ALS then uses preference p = [r > 0] with confidence
c = 1 + alpha * r.

Worked example: sessions of user u on title t with completions 0.9, 0.6 and 0.02, min_completion 0.05,
cap 3: r = 0.9 + 0.6 = 1.5; with alpha 40, c = 1 + 40 * 1.5 = 61.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = ["Interactions", "build_interactions", "popularity_scores", "trending_scores"]


@dataclass(frozen=True)
class Interactions:
    user_ids: npt.NDArray[np.str_]  # row index -> user id, sorted
    item_ids: npt.NDArray[np.str_]  # column index -> title id, sorted
    matrix: sp.csr_matrix  # users x items, float32 strengths r_ui
    last_seen: sp.csr_matrix  # users x items, float64 epoch seconds of the latest counted session
    data_hash: str

    @property
    def n_users(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.matrix.shape[1])


def build_interactions(
    user_ids: npt.ArrayLike,
    item_ids: npt.ArrayLike,
    completion: npt.ArrayLike,
    started_at: npt.ArrayLike,
    *,
    min_completion: float = 0.05,
    max_strength: float = 5.0,
) -> Interactions:
    users = np.asarray(user_ids).astype(str)
    items = np.asarray(item_ids).astype(str)
    comp = np.asarray(completion, dtype=np.float64)
    started = np.asarray(started_at, dtype=np.float64)
    if not users.shape == items.shape == comp.shape == started.shape or users.ndim != 1:
        raise ValueError("user_ids, item_ids, completion and started_at must be 1-D and of equal length")
    if comp.size and (np.nanmin(comp) < 0 or np.nanmax(comp) > 1 or np.isnan(comp).any()):
        raise ValueError("completion values must be in [0, 1]")
    keep = comp >= min_completion
    users, items, comp, started = users[keep], items[keep], comp[keep], started[keep]
    if users.size == 0:
        raise ValueError(f"no viewing records with completion >= {min_completion}: nothing to train on")

    user_index, user_rows = np.unique(users, return_inverse=True)
    item_index, item_cols = np.unique(items, return_inverse=True)
    shape = (user_index.size, item_index.size)
    # Duplicate (row, col) entries are summed by the COO -> CSR conversion.
    strength = sp.coo_matrix((comp.astype(np.float32), (user_rows, item_cols)), shape=shape).tocsr()
    strength.sum_duplicates()
    np.minimum(strength.data, np.float32(max_strength), out=strength.data)

    last = _max_per_cell(user_rows, item_cols, started, shape)
    return Interactions(user_index, item_index, strength, last, _hash(users, items, comp, started))


def _max_per_cell(
    rows: npt.NDArray[np.intp],
    cols: npt.NDArray[np.intp],
    values: npt.NDArray[np.float64],
    shape: tuple[int, int],
) -> sp.csr_matrix:
    order = np.lexsort((values, cols, rows))  # last of each (row, col) run holds the maximum
    rows, cols, values = rows[order], cols[order], values[order]
    last_of_run = np.ones(rows.size, dtype=bool)
    last_of_run[:-1] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    return sp.csr_matrix((values[last_of_run], (rows[last_of_run], cols[last_of_run])), shape=shape, dtype=np.float64)


def _hash(*arrays: npt.NDArray[np.generic]) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def popularity_scores(interactions: Interactions) -> npt.NDArray[np.float32]:
    """Distinct viewers per title: the cold-start ranking and the baseline every evaluation reports."""
    viewers = np.bincount(interactions.matrix.indices, minlength=interactions.n_items)
    return viewers.astype(np.float32)


def trending_scores(interactions: Interactions, half_life_s: float = 7 * 86400.0) -> npt.NDArray[np.float32]:
    """Viewers per title, each weighted by 2^(-age / half_life) relative to the newest session."""
    if half_life_s <= 0:
        raise ValueError("half_life_s must be positive")
    last = interactions.last_seen
    if last.nnz == 0:
        return np.zeros(interactions.n_items, dtype=np.float32)
    age = float(last.data.max()) - last.data
    weights = np.exp2(-age / half_life_s)
    return np.bincount(last.indices, weights=weights, minlength=interactions.n_items).astype(np.float32)
