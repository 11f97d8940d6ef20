"""The queue worker: claim, run with a renewed lease and live progress, record success or a reason."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, Optional

from netflix_clone.contracts.catalog import InvalidTitleId, is_valid_title_id
from netflix_clone.video_processor.adapters.job_queue import Job, JobQueue
from netflix_clone.video_processor.adapters.publish import Publisher
from netflix_clone.video_processor.domain.jobs import next_state_after_failure
from netflix_clone.video_processor.errors import FfmpegError, InvalidMedia
from netflix_clone.video_processor.metrics import WorkerMetrics
from netflix_clone.video_processor.process import ProcessConfig, process_video

__all__ = ["run_job", "run_worker", "worker_id"]

log = logging.getLogger("netflix_clone.video_processor.worker")


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_job(
    job: Job,
    queue: JobQueue,
    worker: str,
    config_for: Callable[[dict[str, Any]], ProcessConfig],
    publisher: Publisher,
    catalog: Any,
    lease_s: float,
    job_timeout_s: Optional[float] = None,
) -> str:
    """Run one claimed job to a recorded end state; returns that state."""
    if not is_valid_title_id(job.title_id):  # the queues refuse these at claim; never trust a row
        outcome = next_state_after_failure(
            job.attempts,
            job.max_attempts,
            True,
            f"invalid_title_id: {InvalidTitleId(job.title_id)}",
        )
        queue.fail(job.id, worker, outcome)
        log.warning("job %s refused: %s", job.id, outcome.reason)
        return outcome.state
    stop = threading.Event()
    state: dict[str, Any] = {"stage": "claimed", "progress": 0.0, "lost": False}
    started = time.monotonic()

    def progress(stage: str, fraction: float) -> None:
        state["stage"], state["progress"] = stage, fraction

    def heartbeat() -> None:
        while not stop.wait(max(0.2, lease_s / 3)):
            if job_timeout_s is not None and time.monotonic() - started > job_timeout_s:
                state["timed_out"] = True
                stop.set()
                return
            if not queue.heartbeat(job.id, worker, float(state["progress"]), str(state["stage"]), lease_s):
                # Another worker owns the job now (our lease lapsed): stop rather than race it.
                state["lost"] = True
                stop.set()
                return

    beat = threading.Thread(target=heartbeat, name=f"lease-{job.id}", daemon=True)
    beat.start()
    try:
        config = config_for(job.settings)
        report = process_video(job.input, job.title_id, job.name, config, publisher, catalog, progress, stop)
    except InvalidMedia as exc:
        outcome = next_state_after_failure(job.attempts, job.max_attempts, True, f"{exc.reason}: {exc.detail}")
    except InvalidTitleId as exc:
        outcome = next_state_after_failure(job.attempts, job.max_attempts, True, f"invalid_title_id: {exc}")
    except FfmpegError as exc:
        if state.get("lost"):
            log.warning("job %s: lease lost to another worker; abandoned", job.id)
            return "abandoned"
        reason = "job timed out" if state.get("timed_out") else f"encode failed: {exc}"
        outcome = next_state_after_failure(job.attempts, job.max_attempts, False, reason[:2000])
    except Exception as exc:  # pylint: disable=broad-except  # any other failure is retried, then recorded
        outcome = next_state_after_failure(job.attempts, job.max_attempts, False, f"{type(exc).__name__}: {exc}"[:2000])
    else:
        stop.set()
        beat.join()
        queue.succeed(
            job.id,
            worker,
            {
                **{k: report[k] for k in ("job_key", "location", "seconds", "reused")},
                "run": report.get("run"),
            },
        )
        log.info("job %s succeeded: %s", job.id, report["location"])
        return "succeeded"
    finally:
        stop.set()
        beat.join()
    queue.fail(job.id, worker, outcome)
    log.warning("job %s attempt %s -> %s: %s", job.id, job.attempts, outcome.state, outcome.reason)
    return outcome.state


def run_worker(
    queue: JobQueue,
    config_for: Callable[[dict[str, Any]], ProcessConfig],
    publisher: Publisher,
    catalog: Any,
    lease_s: float = 30.0,
    poll_s: float = 1.0,
    max_jobs: Optional[int] = None,
    exit_when_idle: bool = False,
    job_timeout_s: Optional[float] = None,
    shutdown: Optional[threading.Event] = None,
    metrics: Optional[WorkerMetrics] = None,
) -> dict[str, int]:
    """Claim and run jobs until idle (``exit_when_idle``), ``max_jobs`` ends or ``shutdown`` is set;
    returns how many jobs ended in each state. ``metrics`` counts and times every job."""
    worker = worker_id()
    counts: dict[str, int] = {}
    while shutdown is None or not shutdown.is_set():
        job = queue.claim(worker, lease_s)
        if job is None:
            if exit_when_idle:
                break
            time.sleep(poll_s)
            continue
        log.info(
            "job %s claimed (attempt %s of %s): %s",
            job.id,
            job.attempts,
            job.max_attempts,
            job.input,
        )
        started = time.monotonic()
        end = "error"  # run_job records every expected end; anything escaping it is counted as this
        if metrics is not None:
            metrics.running.inc()
        try:
            end = run_job(job, queue, worker, config_for, publisher, catalog, lease_s, job_timeout_s)
        finally:
            if metrics is not None:
                metrics.running.dec()
                metrics.finished(end, time.monotonic() - started)
        counts[end] = counts.get(end, 0) + 1
        if max_jobs is not None and sum(counts.values()) >= max_jobs:
            break
    return counts
