"""The trained model: factors, id maps, popularity and what each user has already seen."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = ["FORMAT_VERSION", "RecommenderModel"]

FORMAT_VERSION = 1


@dataclass(frozen=True)
class RecommenderModel:
    version: str
    user_ids: npt.NDArray[np.str_]
    item_ids: npt.NDArray[np.str_]
    user_factors: npt.NDArray[np.float32]
    item_factors: npt.NDArray[np.float32]
    popularity: npt.NDArray[np.float32]
    trending: npt.NDArray[np.float32]
    seen: sp.csr_matrix  # users x items, nonzero where the user watched the title
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        n_users, n_items = self.user_ids.size, self.item_ids.size
        checks: list[tuple[bool, str]] = [
            (
                self.user_factors.dtype == np.float32,
                f"user_factors dtype {self.user_factors.dtype} != float32",
            ),
            (
                self.item_factors.dtype == np.float32,
                f"item_factors dtype {self.item_factors.dtype} != float32",
            ),
            (self.user_factors.ndim == 2, "user_factors must be 2-D"),
            (self.item_factors.ndim == 2, "item_factors must be 2-D"),
            (
                self.user_factors.shape[0] == n_users,
                f"user_factors rows {self.user_factors.shape[0]} != {n_users} users",
            ),
            (
                self.item_factors.shape[0] == n_items,
                f"item_factors rows {self.item_factors.shape[0]} != {n_items} items",
            ),
            (
                self.user_factors.shape[1] == self.item_factors.shape[1],
                f"factor widths differ: users {self.user_factors.shape[1]}, items {self.item_factors.shape[1]}",
            ),
            (
                self.popularity.shape == (n_items,),
                f"popularity shape {self.popularity.shape} != ({n_items},)",
            ),
            (
                self.trending.shape == (n_items,),
                f"trending shape {self.trending.shape} != ({n_items},)",
            ),
            (
                self.seen.shape == (n_users, n_items),
                f"seen shape {self.seen.shape} != ({n_users}, {n_items})",
            ),
            (np.unique(self.user_ids).size == n_users, "user ids are not unique"),
            (np.unique(self.item_ids).size == n_items, "item ids are not unique"),
            (bool(np.isfinite(self.user_factors).all()), "user_factors contain NaN or inf"),
            (bool(np.isfinite(self.item_factors).all()), "item_factors contain NaN or inf"),
        ]
        problems = [message for ok, message in checks if not ok]
        if problems:
            # A precondition, like the other domain checks; loading a model from files turns it into
            # the service's ModelError (adapters/artifacts.py).
            raise ValueError(f"model {self.version!r} is inconsistent: " + "; ".join(problems))

    @property
    def n_users(self) -> int:
        return int(self.user_ids.size)

    @property
    def n_items(self) -> int:
        return int(self.item_ids.size)

    @property
    def factors(self) -> int:
        return int(self.item_factors.shape[1])

    def seen_items(self, user_index: int) -> npt.NDArray[np.int32]:
        start, end = self.seen.indptr[user_index], self.seen.indptr[user_index + 1]
        return np.asarray(self.seen.indices[start:end], dtype=np.int32)
