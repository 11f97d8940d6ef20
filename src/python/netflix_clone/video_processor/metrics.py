"""The worker's Prometheus metrics: one registry (with the process collectors), served on ``/metrics``.

    >>> from netflix_clone.platform.metrics import naming_problems
    >>> metrics = WorkerMetrics()
    >>> metrics.finished("succeeded", 12.5)
    >>> metrics.registry.get_sample_value("video_jobs_total", {"outcome": "succeeded"})
    1.0
    >>> metrics.registry.get_sample_value("video_job_duration_seconds_count", {"outcome": "succeeded"})
    1.0
    >>> naming_problems(metrics.registry, "video")
    []
"""

from __future__ import annotations

from typing import Optional

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from netflix_clone.platform.metrics import new_registry

__all__ = ["OUTCOMES", "WorkerMetrics"]

# How a claimed job can end (worker.run_job): "queued" is a failed attempt that will be retried.
OUTCOMES = ("succeeded", "queued", "failed", "abandoned", "error")
# Encodes run from seconds (a short clip, one rung) to an hour (a feature at per-title).
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)


class WorkerMetrics:
    """``video_jobs_total{outcome}``, ``video_job_duration_seconds{outcome}``, ``video_running_jobs``."""

    def __init__(self, registry: Optional[CollectorRegistry] = None) -> None:
        self.registry = registry if registry is not None else new_registry()
        self.jobs = Counter(
            "video_jobs",
            "Jobs this worker ran to an end, by outcome (queued: the attempt failed and will be retried)",
            ["outcome"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "video_job_duration_seconds",
            "Wall time from claim to the recorded end of a job, by outcome",
            ["outcome"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.running = Gauge("video_running_jobs", "Jobs this worker is running now", registry=self.registry)
        for outcome in OUTCOMES:  # every series exists from the start, at 0
            self.jobs.labels(outcome)
            self.duration.labels(outcome)

    def finished(self, outcome: str, seconds: float) -> None:
        self.jobs.labels(outcome).inc()
        self.duration.labels(outcome).observe(seconds)
