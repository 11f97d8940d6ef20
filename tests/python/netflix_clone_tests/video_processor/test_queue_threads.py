"""Issue 16: the PostgreSQL queue shared one psycopg2 connection between the claim loop, the lease
heartbeat and the ops server's /readyz, while claim() flipped its autocommit mode - a readiness query
landing between COMMIT and ``autocommit = True`` killed the claim loop. Now every call borrows its own
connection; this hammers /readyz from several threads while workers claim, heartbeat and finish."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections import Counter
from typing import Any

import pytest

from netflix_clone.platform.ops_http import HealthChecks, OpsServer
from netflix_clone.video_processor.adapters.job_queue import PostgresJobQueue
from netflix_clone.video_processor.commands import config_from_settings
from netflix_clone.video_processor.worker import run_worker

JOBS = 24


def test_readyz_hammered_during_claims_and_heartbeats(pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    queue = PostgresJobQueue(pg_dsn)
    with queue.connection() as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE video_jobs")
    ids = [queue.enqueue(f"t{i}", f"T{i}", f"/in/{i}.mp4", {}) for i in range(JOBS)]

    processed: Counter[str] = Counter()
    lock = threading.Lock()

    def fake_process(source: str, title_id: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        progress = args[4] if len(args) > 4 else kwargs.get("progress")
        for step in range(4):  # long enough for several lease heartbeats (every 0.2 s)
            if progress is not None:
                progress("encode", step / 4)
            time.sleep(0.1)
        with lock:
            processed[title_id] += 1
        return {
            "job_key": "k",
            "location": f"file:///x/{title_id}",
            "seconds": 0.4,
            "reused": False,
        }

    monkeypatch.setattr("netflix_clone.video_processor.worker.process_video", fake_process)

    checks = HealthChecks()
    checks.register("queue", queue.ping)
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    done = threading.Event()

    def hammer(url: str) -> None:
        while not done.is_set():
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=5) as response:  # nosec B310
                    with lock:
                        statuses[response.status] += 1
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")

    results: list[dict[str, int]] = []
    worker_errors: list[BaseException] = []

    def worker() -> None:
        try:
            counts = run_worker(
                queue, config_from_settings, None, None, lease_s=0.6, exit_when_idle=True  # type: ignore[arg-type]
            )
            with lock:
                results.append(counts)
        except BaseException as exc:  # noqa: BLE001
            worker_errors.append(exc)

    with OpsServer(checks, port=0) as ops:
        hammers = [threading.Thread(target=hammer, args=(ops.url,)) for _ in range(4)]
        workers = [threading.Thread(target=worker) for _ in range(3)]
        for t in hammers + workers:
            t.start()
        for t in workers:
            t.join(timeout=120)
        done.set()
        for t in hammers:
            t.join(timeout=10)

    assert not worker_errors, worker_errors
    assert not errors, errors[:5]
    assert statuses[200] > 50 and set(statuses) == {200}
    assert sum(sum(c.values()) for c in results) == JOBS
    assert all(c == {"succeeded": c.get("succeeded", 0)} for c in results)
    assert processed == Counter({f"t{i}": 1 for i in range(JOBS)})  # every job exactly once
    jobs = queue.jobs()
    assert sorted(j.id for j in jobs) == ids
    assert all(j.state == "succeeded" and j.attempts == 1 for j in jobs)
    queue.close()
