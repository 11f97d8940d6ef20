"""Holds the live Recommender and swaps in new model versions atomically.

A request reads `holder.current` once and uses that object to the end, so a reload mid-request never
mixes two models; the swap is a single reference assignment.
"""

from __future__ import annotations

import gc
import logging
import threading
from pathlib import Path
from typing import Optional

from netflix_clone.recommendation_service.adapters.artifacts import current_version, load_model
from netflix_clone.recommendation_service.adapters.topn_cache import TopNCache
from netflix_clone.recommendation_service.engine import Recommender

__all__ = ["ModelHolder"]

_log = logging.getLogger(__name__)


class ModelHolder:
    def __init__(
        self,
        model_root: Path,
        *,
        cold_start: str = "popularity",
        cache: Optional[TopNCache] = None,
    ) -> None:
        self.model_root = model_root
        self.cold_start = cold_start
        self.cache = cache
        self._current: Optional[Recommender] = None
        self._reload_lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: Optional[threading.Thread] = None
        self.last_error: Optional[str] = None

    @property
    def current(self) -> Recommender:
        recommender = self._current
        if recommender is None:
            raise RuntimeError(f"no model loaded yet from {self.model_root}")
        return recommender

    @property
    def ready(self) -> bool:
        return self._current is not None

    def reload_if_changed(self) -> bool:
        """Load CURRENT if it names a new version. A broken new model is reported and the old one kept."""
        with self._reload_lock:
            try:
                version = current_version(self.model_root)
                if self._current is not None and self._current.version == version:
                    return False
                loaded = load_model(self.model_root, version)
                recommender = Recommender(
                    loaded.model,
                    ann=loaded.ann.get("ip"),
                    similar_ann=loaded.ann.get("cosine"),
                    cold_start=self.cold_start,
                )
            except Exception as exc:  # keep serving the old model, surface the reason on /readyz
                self.last_error = f"{type(exc).__name__}: {exc}"
                _log.error("model reload failed: %s", self.last_error)
                return False
            previous = self._current
            self._current = recommender
            self.last_error = None
            # The id maps are ~100k long-lived objects; moving them out of the collector's generations
            # keeps full collections (and the latency spikes they cause) short.
            gc.collect()
            gc.freeze()
            _log.info(
                "serving model %s",
                version,
                extra={"previous": previous.version if previous else None},
            )
            if self.cache is not None:
                dropped = self.cache.drop_versions_except(version)
                _log.info("dropped %d cached lists of older models", dropped)
            return True

    def watch(self, interval_s: float = 5.0) -> None:
        def _loop() -> None:
            while not self._stop.wait(interval_s):
                self.reload_if_changed()

        self._watcher = threading.Thread(target=_loop, name="model-watcher", daemon=True)
        self._watcher.start()

    def close(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
