"""The API's Prometheus metrics (`reco_*`), and the `/metrics` payload (merged across worker processes
when prometheus_client runs in multiprocess mode)."""

from __future__ import annotations

from typing import Optional

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["LATENCY_BUCKETS", "Telemetry", "metrics_payload"]

LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)


class Telemetry:
    def __init__(self, registry: CollectorRegistry, multiprocess_dir: Optional[str] = None) -> None:
        self.registry = registry
        self.multiprocess_dir = multiprocess_dir
        self.latency = Histogram(
            "reco_request_seconds",
            "request latency by endpoint",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.requests = Counter(
            "reco_requests_total",
            "requests by endpoint and status",
            ["endpoint", "status"],
            registry=registry,
        )
        self.cache = Counter(
            "reco_topn_cache_total",
            "top-N cache lookups: hit, miss, error (Redis failed), bypassed (circuit open)",
            ["result"],
            registry=registry,
        )
        self.cache_writes_failed = Counter(
            "reco_topn_cache_write_errors_total", "top-N lists not stored", registry=registry
        )
        self.refused = Counter(
            "reco_refused_requests_total",
            "requests refused before parsing",
            ["reason"],
            registry=registry,
        )
        self.model_events = Counter(
            "reco_model_events_total",
            "model watcher events: reload, reload_error, cache_invalidation_error",
            ["event"],
            registry=registry,
        )


def metrics_payload(telemetry: Telemetry) -> bytes:
    if telemetry.multiprocess_dir:
        from prometheus_client import multiprocess

        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=telemetry.multiprocess_dir)  # type: ignore[no-untyped-call]
        return bytes(generate_latest(merged))
    return bytes(generate_latest(telemetry.registry))
