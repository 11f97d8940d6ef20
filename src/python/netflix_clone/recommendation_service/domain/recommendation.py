"""Value types the service hands around: a ranked list of titles, and the progress callback.

    >>> Recommendation(["t1", "t2"], [0.9, 0.5], "als-exact", "v1").items
    ['t1', 't2']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ProgressFn", "Recommendation"]

ProgressFn = Callable[[int, int, float], None]  # (done, of, seconds elapsed)


@dataclass(frozen=True)
class Recommendation:
    """Titles best first, their scores, how they were chosen and by which model version."""

    items: list[str]
    scores: list[float]
    strategy: str  # "als-exact", "als-ann", "cosine-exact", "cosine-ann", "popularity", "trending"
    model_version: str
