"""Holds the live Recommender and swaps in new model versions atomically.

A request reads `holder.current` once and uses that object to the end, so a reload mid-request never
mixes two models; the swap is a single reference assignment.

The watcher thread polls the store's CURRENT pointer (a local model root or an S3 prefix). It survives
every error: a pointer it cannot read, a version it cannot load, a Redis that is down while old cache
entries are dropped. Each is logged, counted (`reco_model_events_total{event="reload_error"}`)
and retried on the next tick. `reload_error` describes the *current* state: it is set while CURRENT names a version
that cannot be served, and cleared as soon as CURRENT names the served version again.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Optional, Union

from netflix_clone.recommendation_service.adapters.artifacts import load_model
from netflix_clone.recommendation_service.adapters.registry import LocalStore, ModelStore
from netflix_clone.recommendation_service.adapters.topn_cache import TopNCache
from netflix_clone.recommendation_service.serving.recommender import Recommender

__all__ = ["ModelHolder"]

_log = logging.getLogger(__name__)


class ModelHolder:
    def __init__(
        self,
        store: Union[ModelStore, Path],
        *,
        cold_start: str = "popularity",
        cache: Optional[TopNCache] = None,
        on_event: Optional[Callable[[str], None]] = None,
    ) -> None:
        self.store: ModelStore = LocalStore(store) if isinstance(store, Path) else store
        self.cold_start = cold_start
        self.cache = cache
        self._listeners: list[Callable[[str], None]] = [on_event] if on_event else []
        self._current: Optional[Recommender] = None
        self._reload_lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: Optional[threading.Thread] = None
        self.last_error: Optional[str] = None
        self.failed_version: Optional[str] = None
        self.reloads = 0

    @property
    def model_root(self) -> str:
        return self.store.uri

    @property
    def current(self) -> Recommender:
        recommender = self._current
        if recommender is None:
            raise RuntimeError(f"no model loaded yet from {self.store.uri}")
        return recommender

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """Called with "reload", "reload_error" or "cache_invalidation_error" (e.g. to count them)."""
        self._listeners.append(listener)

    def _on_event(self, event: str) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # pragma: no cover - a metrics hook must never break a reload
                _log.exception("model event listener failed")

    def peek(self) -> Optional[Recommender]:
        """The live recommender, or None before the first load."""
        return self._current

    @property
    def ready(self) -> bool:
        return self._current is not None

    def reload_if_changed(self) -> bool:
        """Load CURRENT if it names a new version. A broken new model is reported and the old one kept.
        Never raises."""
        with self._reload_lock:
            try:
                version = self.store.current_version()
            except Exception as exc:  # unreadable pointer: keep serving, say why on /readyz
                self._failed(None, exc)
                return False
            if self._current is not None and self._current.version == version:
                self.last_error = None  # CURRENT names what we serve: nothing is wrong now
                self.failed_version = None
                return False
            try:
                directory = self.store.materialize(version)
                loaded = load_model(directory.parent, version)
                recommender = Recommender(
                    loaded.model,
                    ann=loaded.ann.get("ip"),
                    similar_ann=loaded.ann.get("cosine"),
                    cold_start=self.cold_start,
                    unit_items=loaded.unit_items,
                )
            except Exception as exc:  # keep serving the old model, surface the reason on /readyz
                self._failed(version, exc)
                return False
            previous = self._current
            self._current = recommender
            self.last_error = None
            self.failed_version = None
            self.reloads += 1
            self._on_event("reload")
            # The id maps are ~100k long-lived objects; moving them out of the collector's generations
            # keeps full collections (and the latency spikes they cause) short.
            gc.collect()
            gc.freeze()
            _log.info(
                "serving model %s",
                version,
                extra={"previous": previous.version if previous else None},
            )
        self._drop_old_cache_entries(version)
        return True

    def _failed(self, version: Optional[str], exc: BaseException) -> None:
        reason = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        self.last_error = f"{version}: {reason}" if version else reason
        self.failed_version = version
        self._on_event("reload_error")
        _log.error("model reload failed: %s", self.last_error)

    def _drop_old_cache_entries(self, version: str) -> None:
        """Invalidation is best effort: keys carry the version, so stale lists are never served;
        this only frees memory. A Redis failure here must not stop anything."""
        if self.cache is None:
            return
        try:
            dropped = self.cache.drop_versions_except(version)
            _log.info("dropped %d cached lists of older models", dropped)
        except Exception as exc:
            self._on_event("cache_invalidation_error")
            _log.warning("could not drop old cached lists (%s: %s)", type(exc).__name__, str(exc)[:160])

    def tick(self) -> None:
        """One watcher step: reload if CURRENT moved, and let a failing cache find out it is back."""
        try:
            self.reload_if_changed()
            if self.cache is not None and not self.cache.healthy:
                self.cache.probe()
        except Exception:  # pragma: no cover - reload_if_changed and probe do not raise
            _log.exception("model watcher step failed")

    def watch(self, interval_s: float = 5.0, *, load_now: bool = False) -> None:
        def _loop() -> None:
            if load_now:
                self.tick()
            while not self._stop.wait(interval_s):
                self.tick()

        self._watcher = threading.Thread(target=_loop, name="model-watcher", daemon=True)
        self._watcher.start()

    @property
    def watching(self) -> bool:
        return self._watcher is not None and self._watcher.is_alive()

    def close(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)

    def wait_ready(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while not self.ready and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.ready
