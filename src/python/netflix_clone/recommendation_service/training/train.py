"""train: history -> (self-tuning) -> interactions -> ALS -> (ANN index for large catalogs) -> artifact.

With tuning (the default of the command line), `tune` searches on all history (its validation split
carved from it), which is what the final model is trained on: a search nested inside a further
train/test split sees less data and more unlabeled positives, and chooses worse (README). With
evaluation on, `offline_metrics` scores the chosen parameters on a held-out 20 % split; `evaluate`
gives the strict figure (tuning inside its train split). The search and the chosen values are stored
in the metadata ("tuning", "params").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional

from netflix_clone.recommendation_service.adapters.artifacts import save_model
from netflix_clone.recommendation_service.adapters.history_sources import HistoryColumns
from netflix_clone.recommendation_service.adapters.hnsw_index import AnnIndex, build_ann_index
from netflix_clone.recommendation_service.domain.interactions import build_interactions
from netflix_clone.recommendation_service.domain.model import RecommenderModel
from netflix_clone.recommendation_service.training.als import AlsParams, ProgressFn, train_als
from netflix_clone.recommendation_service.training.evaluation import evaluate
from netflix_clone.recommendation_service.training.tuning import TuningOptions, tune

__all__ = ["TrainOptions", "TrainResult", "train_and_save"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOptions:
    params: AlsParams = AlsParams()
    min_completion: float = 0.05
    ann_threshold: int = 100_000  # catalogs at least this large get an HNSW index
    ann_target_recall: float = 0.95
    evaluate: bool = True
    tuning: Optional[TuningOptions] = None


@dataclass(frozen=True)
class TrainResult:
    model: RecommenderModel
    path: Path
    ann: dict[str, AnnIndex]

    def summary(self) -> dict[str, Any]:
        return {"version": self.model.version, "path": str(self.path), **self.model.metadata}


def train_and_save(
    history: HistoryColumns,
    model_root: Path,
    options: TrainOptions = TrainOptions(),
    *,
    progress: Optional[ProgressFn] = None,
) -> TrainResult:
    interactions = build_interactions(
        history.user_id,
        history.title_id,
        history.completion,
        history.started_at,
        min_completion=options.min_completion,
    )
    params = options.params
    search: Optional[dict[str, Any]] = None
    if options.tuning is not None:
        params, found = tune(interactions, options.params, options.tuning)
        search = {**found.as_dict(), "tuned_on": "all history (validation carved from it)"}
    metrics: dict[str, Any] = {}
    if options.evaluate:
        try:
            metrics = evaluate(history, params, min_completion=options.min_completion).as_dict()
            if search is not None:
                metrics["protocol"] = (
                    "the chosen parameters scored on a held-out 20 % split; they were chosen on all "
                    "history, so this is optimistic by the choice of three numbers (`evaluate` "
                    "tunes inside its train split for the strict figure)"
                )
        except ValueError as exc:
            metrics = {"skipped": str(exc)}
    model = train_als(interactions, params, progress=progress)
    ann: dict[str, AnnIndex] = {}
    ann_meta: dict[str, Any] = {}
    if model.n_items >= options.ann_threshold:
        for space, queries in (("ip", model.user_factors), ("cosine", model.item_factors)):
            index, report = build_ann_index(
                model.item_factors,
                queries,
                space=space,
                target_recall=options.ann_target_recall,
                seed=options.params.seed,
            )
            ann[space] = index
            ann_meta[space] = report.as_dict()
            _log.info("built %s ANN index", space, extra=report.as_dict())
    metadata = {
        **model.metadata,
        "offline_metrics": metrics,
        "tuning": search,
        "ann": ann_meta,
        "ann_threshold": options.ann_threshold,
    }
    model = replace(model, metadata=metadata)
    path = save_model(model_root, model, ann)
    if path.name != model.version:  # the proposed name was taken: save_model drew a fresh suffix
        model = replace(model, version=path.name)
    return TrainResult(model, path, ann)
