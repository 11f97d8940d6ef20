"""The worker's job metrics, scraped from its /metrics endpoint while it runs (as Prometheus would)."""

from __future__ import annotations

import multiprocessing as mp
import socket
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from netflix_clone.platform.metrics import naming_problems
from netflix_clone.video_processor.adapters.job_queue import SqliteJobQueue
from netflix_clone.video_processor.metrics import WorkerMetrics
from netflix_clone_testing.media import make_clip

FAST = {"segment_s": 1, "preset": "ultrafast", "quality_subsample": 10, "max_rungs": 1}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _worker(queue: str, output: str, port: int) -> None:
    from netflix_clone.video_processor.cli import main

    main(["--log-level", "WARNING", "worker", "--queue", queue, "--output", output, "--poll-s", "0.2",
          "--ops-port", str(port)])  # fmt: skip


def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:  # nosec B310
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_the_registry_follows_the_naming_rules() -> None:
    problems = naming_problems(WorkerMetrics().registry, "video")
    assert not problems, problems  # naming_problems(registry) == []


def test_a_running_worker_counts_and_times_its_jobs(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "ok.mp4", seconds=1, size="160x90")
    (tmp_path / "broken.mp4").write_text("not a video")
    spec = str(tmp_path / "jobs.sqlite")
    queue = SqliteJobQueue(spec)
    queue.enqueue("ok", "OK", str(clip), FAST)
    queue.enqueue("broken", "Broken", str(tmp_path / "broken.mp4"), FAST)
    port = _free_port()
    process = mp.get_context("spawn").Process(target=_worker, args=(spec, str(tmp_path / "out"), port))
    process.start()
    try:
        deadline = time.monotonic() + 180
        samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        while time.monotonic() < deadline:
            assert process.is_alive(), "the worker ended early"
            try:
                samples = _scrape(port)
            except OSError:  # not listening yet
                time.sleep(0.2)
                continue
            if samples.get(("video_jobs_total", (("outcome", "succeeded"),))) == 1.0 and samples.get(
                ("video_jobs_total", (("outcome", "failed"),))
            ):
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"the counters never moved: {samples}")
        assert samples[("video_jobs_total", (("outcome", "failed"),))] == 1.0  # not_a_video: permanent
        assert samples[("video_job_duration_seconds_count", (("outcome", "succeeded"),))] == 1.0
        assert samples[("video_job_duration_seconds_sum", (("outcome", "succeeded"),))] > 0
        assert samples[("video_running_jobs", ())] == 0.0
        assert ("process_cpu_seconds_total", ()) in samples  # new_registry()'s process collector
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:  # nosec B310
            assert response.status == 200
    finally:
        process.terminate()  # SIGTERM: the worker stops between jobs
        process.join(30)
    assert process.exitcode == 0
