"""Approximate top-N over item factors with hnswlib (HNSW graphs, inner-product or cosine space).

`build_ann_index` tunes the search breadth `ef` upward until recall@10 against exact search, measured on
a sample of real user vectors, reaches the target; the measured recall is stored in model metadata.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hnswlib
import numpy as np
import numpy.typing as npt

from netflix_clone.recommendation_service.domain.ranking import top_n

__all__ = ["AnnIndex", "AnnReport", "build_ann_index", "exact_recall_at_k"]

_log = logging.getLogger(__name__)
EF_STEPS = (32, 64, 96, 128, 192, 256, 384, 512, 768, 1024)


@dataclass(frozen=True)
class AnnReport:
    space: str
    ef: int
    m: int
    ef_construction: int
    recall_at_10: float
    sample_queries: int
    build_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "space": self.space,
            "ef": self.ef,
            "M": self.m,
            "ef_construction": self.ef_construction,
            "recall_at_10": round(self.recall_at_10, 4),
            "sample_queries": self.sample_queries,
            "build_seconds": round(self.build_seconds, 2),
        }


class AnnIndex:
    def __init__(self, index: Any, space: str, ef: int) -> None:
        self._index = index
        self.space = space
        self.ef = ef
        index.set_ef(ef)
        index.set_num_threads(1)  # one thread per request: requests are the parallelism

    def query(self, vector: npt.NDArray[np.float32], k: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Item indices and scores (inner product, or cosine similarity), best first."""
        k = min(k, int(self._index.get_current_count()))
        labels, distances = self._index.knn_query(vector, k=k)
        # hnswlib returns 1 - similarity for both spaces.
        return labels[0].astype(np.int64), (1.0 - distances[0]).astype(np.float32)

    def save(self, path: Path) -> None:
        self._index.save_index(str(path))

    @classmethod
    def load(cls, path: Path, space: str, dim: int, count: int, ef: int) -> AnnIndex:
        index = hnswlib.Index(space=space, dim=dim)
        index.load_index(str(path), max_elements=count)
        if int(index.get_current_count()) != count:
            raise ValueError(f"ANN index {path} holds {index.get_current_count()} items, model has {count}")
        return cls(index, space, ef)


def exact_recall_at_k(
    index: AnnIndex,
    items: npt.NDArray[np.float32],
    queries: npt.NDArray[np.float32],
    k: int = 10,
) -> float:
    hits = 0
    for query in queries:
        exact, _ = top_n(items @ query, k)
        approx, _ = index.query(query, k)
        hits += len(set(exact.tolist()) & set(approx.tolist()))
    return hits / (k * len(queries))


def build_ann_index(
    item_vectors: npt.NDArray[np.float32],
    query_vectors: npt.NDArray[np.float32],
    *,
    space: str = "ip",
    target_recall: float = 0.95,
    m: int = 24,
    ef_construction: int = 200,
    sample_queries: int = 200,
    seed: int = 42,
    threads: int = 2,
) -> tuple[AnnIndex, AnnReport]:
    started = time.perf_counter()
    items = np.ascontiguousarray(item_vectors, dtype=np.float32)
    if space == "cosine":
        norms = np.linalg.norm(items, axis=1, keepdims=True)
        items = items / np.where(norms == 0, 1.0, norms)
    raw = hnswlib.Index(space=space, dim=items.shape[1])
    raw.init_index(max_elements=items.shape[0], ef_construction=ef_construction, M=m, random_seed=seed)
    raw.add_items(items, np.arange(items.shape[0]), num_threads=threads)
    rng = np.random.default_rng(seed)
    count = min(sample_queries, query_vectors.shape[0])
    queries = np.ascontiguousarray(query_vectors[rng.choice(query_vectors.shape[0], count, replace=False)])
    if space == "cosine":
        queries = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)

    index = AnnIndex(raw, space, EF_STEPS[0])
    recall = 0.0
    for ef in EF_STEPS:
        index = AnnIndex(raw, space, ef)
        recall = exact_recall_at_k(index, items, queries)
        _log.info("ANN ef=%d recall@10=%.4f", ef, recall)
        if recall >= target_recall:
            break
    report = AnnReport(space, index.ef, m, ef_construction, recall, count, time.perf_counter() - started)
    return index, report
