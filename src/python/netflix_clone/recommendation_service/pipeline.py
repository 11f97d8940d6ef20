"""train: history -> (self-tuning) -> interactions -> ALS -> (ANN index for large catalogs) -> artifact.

With tuning (the default of the command line), the parameters are chosen once:
- with evaluation: history is split into train/test; `tune` searches on the train split (its own
  validation split carved from it); the chosen parameters are scored on the untouched test split
  (`offline_metrics`); the final model is then trained on all history with those parameters;
- without evaluation: `tune` searches on all history (validation carved from it).
The search and the chosen values are stored in the metadata ("tuning", "params").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional

from netflix_clone.recommendation_service.adapters.artifacts import save_model
from netflix_clone.recommendation_service.adapters.history_sources import HistoryColumns
from netflix_clone.recommendation_service.ann import AnnIndex, build_ann_index
from netflix_clone.recommendation_service.domain.interactions import build_interactions
from netflix_clone.recommendation_service.domain.model import RecommenderModel
from netflix_clone.recommendation_service.evaluation import evaluate
from netflix_clone.recommendation_service.training import AlsParams, ProgressFn, train_als
from netflix_clone.recommendation_service.tuning import TuningOptions, tune

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
    metrics: dict[str, Any] = {}
    params = options.params
    search: Optional[dict[str, Any]] = None
    if options.evaluate:
        try:
            evaluation = evaluate(
                history,
                options.params,
                min_completion=options.min_completion,
                tuning=options.tuning,
                compare_fixed=False,
            )
            metrics = evaluation.as_dict()
            search = metrics.pop("tuning", None)
            if search is not None:
                params = replace(params, **{k: search["chosen"][k] for k in _TUNED})
        except ValueError as exc:
            metrics = {"skipped": str(exc)}
    interactions = build_interactions(
        history.user_id,
        history.title_id,
        history.completion,
        history.started_at,
        min_completion=options.min_completion,
    )
    if options.tuning is not None and search is None:
        params, found = tune(interactions, options.params, options.tuning)
        search = found.as_dict()
    if search is not None:
        search["tuned_on"] = (
            "train split of the evaluation" if metrics.get("als") else "all history"
        )
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


_TUNED = ("factors", "regularization", "alpha")
