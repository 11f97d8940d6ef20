"""Job queues on the real PostgreSQL and on SQLite; worker retries, failure reasons, and a SIGKILL mid-encode."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from netflix_clone.video_processor.adapters.job_queue import PostgresJobQueue, SqliteJobQueue
from netflix_clone.video_processor.adapters.publish import LocalPublisher
from netflix_clone.video_processor.commands import config_from_settings
from netflix_clone.video_processor.domain.jobs import JobOutcome
from netflix_clone.video_processor.domain.playlists import parse_master, parse_media_playlist
from netflix_clone.video_processor.worker import run_worker
from netflix_clone_testing.media import make_clip

FAST = {"segment_s": 1, "preset": "ultrafast", "quality_subsample": 5}


@pytest.fixture(params=["postgres", "sqlite"])
def queue(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "postgres":
        q = PostgresJobQueue(request.getfixturevalue("pg_dsn"))
        with q.connection() as conn, conn.cursor() as cur:
            cur.execute("TRUNCATE video_jobs")
        yield q
        q.close()
    else:
        yield SqliteJobQueue(str(tmp_path / "jobs.sqlite"))


def test_claims_are_exclusive_and_ordered(queue: Any) -> None:
    ids = [queue.enqueue(f"t{i}", f"T{i}", f"/in/{i}.mp4", FAST) for i in range(6)]
    claimed: list[int] = []
    lock = threading.Lock()

    def claimer(name: str) -> None:
        q = queue if isinstance(queue, SqliteJobQueue) else PostgresJobQueue(queue.dsn)
        while (job := q.claim(name, lease_s=60)) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == ids  # every job once, none twice
    assert all(j.state == "running" and j.attempts == 1 for j in queue.jobs())


def test_lease_rules(queue: Any) -> None:
    job_id = queue.enqueue("t", "T", "/in/t.mp4", FAST, max_attempts=2)
    job = queue.claim("w1", lease_s=0.3)
    assert job.id == job_id and queue.claim("w2", lease_s=0.3) is None  # leased
    assert queue.heartbeat(job_id, "w1", 0.5, "encode", 0.3)
    time.sleep(0.5)  # w1 stops renewing
    retaken = queue.claim("w2", lease_s=60)
    assert retaken.id == job_id and retaken.attempts == 2 and "lease" in retaken.reason
    assert not queue.heartbeat(job_id, "w1", 0.9, "encode", 60)  # w1 lost it and must not write
    assert not queue.succeed(job_id, "w1", {})
    assert queue.fail(job_id, "w2", JobOutcome("queued", 0.0, "ffmpeg exited with status 1"))
    time.sleep(0.05)
    job = queue.claim("w3", lease_s=0.2)
    assert job.attempts == 3
    time.sleep(0.4)
    assert queue.claim("w4", lease_s=60) is None  # attempts exhausted: failed, not re-run
    final = queue.get(job_id)
    assert final.state == "failed" and "gave up after 3 attempts" in final.reason


def test_worker_records_success_and_permanent_failures(queue: Any, tmp_path: Path) -> None:
    good = make_clip(tmp_path / "good.mp4", seconds=2, size="320x180")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)  # an MP4 header and nothing else
    good_id = queue.enqueue("good", "Good", str(good), FAST)
    bad_id = queue.enqueue("bad", "Bad", str(bad), FAST)
    missing_id = queue.enqueue("missing", "Missing", str(tmp_path / "gone.mp4"), FAST, max_attempts=1)
    counts = run_worker(
        queue,
        config_from_settings,
        LocalPublisher(str(tmp_path / "out")),
        None,
        lease_s=10,
        exit_when_idle=True,
    )
    assert counts == {"succeeded": 1, "failed": 2}
    assert queue.get(good_id).state == "succeeded" and queue.get(good_id).result["location"].startswith("file://")
    bad_job = queue.get(bad_id)
    assert bad_job.state == "failed" and bad_job.attempts == 1  # permanent: not retried
    assert bad_job.reason.startswith("truncated:")
    assert queue.get(missing_id).reason.startswith("not_a_video: cannot read")


def _worker_process(queue_spec: str, output: str) -> None:
    from netflix_clone.video_processor.cli import main

    main(
        [
            "--log-level",
            "WARNING",
            "worker",
            "--queue",
            queue_spec,
            "--output",
            output,
            "--lease-s",
            "1.5",
            "--max-jobs",
            "1",
        ]
    )


def test_a_worker_killed_mid_encode_is_retried_to_a_complete_ladder(pg_dsn: str, tmp_path: Path) -> None:
    source = make_clip(tmp_path / "long.mp4", seconds=12, size="640x360")
    queue = PostgresJobQueue(pg_dsn)
    with queue.connection() as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE video_jobs")
    job_id = queue.enqueue("long", "Long", str(source), {"segment_s": 2, "preset": "medium", "quality_subsample": 5})
    output = tmp_path / "out"

    process = mp.get_context("spawn").Process(target=_worker_process, args=(pg_dsn, str(output)))
    process.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = queue.get(job_id)
        assert job is not None
        if job.stage == "encode" and job.progress > 0.1:
            break
        assert process.is_alive(), "the worker ended before it could be killed"
        time.sleep(0.05)
    else:
        pytest.fail("the job never reached the encode stage")
    process.kill()  # SIGKILL: no clean-up, no state written
    process.join()
    killed = queue.get(job_id)
    assert killed is not None
    assert killed.state == "running" and killed.attempts == 1  # as the dead worker left it
    assert not (output / "titles").exists()  # nothing half-published

    counts = run_worker(
        queue,
        config_from_settings,
        LocalPublisher(str(output)),
        None,
        lease_s=5,
        exit_when_idle=False,
        max_jobs=1,
        poll_s=0.2,
    )
    assert counts == {"succeeded": 1}
    job = queue.get(job_id)
    assert job is not None and job.state == "succeeded" and job.attempts == 2
    title_dirs = list((output / "titles" / "long").iterdir())
    assert len(title_dirs) == 1
    variants, _ = parse_master((title_dirs[0] / "master.m3u8").read_text())
    for variant in variants:
        playlist = parse_media_playlist((title_dirs[0] / variant["URI"]).read_text())
        assert playlist.duration_s == pytest.approx(12.0, abs=0.2)
        for segment in playlist.segments:
            assert (title_dirs[0] / variant["URI"]).parent.joinpath(segment.uri).stat().st_size > 0
    queue.close()
