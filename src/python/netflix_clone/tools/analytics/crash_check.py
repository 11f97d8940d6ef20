"""Crash test: SIGKILL the stream consumer again and again while simulated events flow, restart it each
time, then check every session exists exactly once with the metrics of an uninterrupted replay.

    analytics-tools crash-check --sessions 4800 --json   (~1M events; see cli.py)
"""

from __future__ import annotations

import multiprocessing as mp
import random
import secrets
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from netflix_clone.analytics_consumer.adapters.redis_streams import publish_events
from netflix_clone.analytics_consumer.adapters.sinks import SESSION_COLUMNS, SqliteSink
from netflix_clone.analytics_consumer.consumer import StreamConsumer, consumer_for_prefix
from netflix_clone.analytics_consumer.domain.closing import ClosingRule
from netflix_clone.analytics_consumer.domain.sessionizer import Sessionizer
from netflix_clone.contracts.player_events import encode_event
from netflix_clone.tools.analytics.simulator import simulate_population

__all__ = ["CrashReport", "run_crash_test"]

BOOLEAN_COLUMNS = {"exited_before_start", "start_failure", "playback_failure"}


@dataclass(frozen=True)
class CrashReport:
    events_in: int
    sessions_expected: int
    sessions_out: int
    missing: int
    unexpected: int
    mismatched: int
    kills: int
    kills_mid_stream: int  # kills that hit a consumer with entries still undelivered or pending
    seconds: float

    @property
    def ok(self) -> bool:
        return self.missing == self.unexpected == self.mismatched == 0 and self.sessions_out == self.sessions_expected


def _consumer(
    redis_url: str, prefix: str, db: str, name: str, batch: int = 2000, cluster: bool = False
) -> StreamConsumer:
    from netflix_clone.platform.connections import connect_redis

    return consumer_for_prefix(
        connect_redis(redis_url, cluster=cluster),
        prefix,
        name,
        [SqliteSink(Path(db))],
        batch=batch,
        claim_idle_ms=300,
        lease_ms=2000,
        # Every event is published at once, so receive time says nothing about play time: sessions
        # close by their end, or when the (finished) stream is drained - as in the reference replay.
        rule=ClosingRule(inactivity_timeout_ms=86_400_000),
    )


def _consume_forever(
    redis_url: str, prefix: str, db: str, name: str, batch: int, ready: Any, cluster: bool = False
) -> None:
    consumer = _consumer(redis_url, prefix, db, name, batch, cluster)
    ready.set()  # imports done: the kill timer starts now, so kills land while work is in flight
    consumer.run()


def _rows(db: Path) -> dict[str, tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    rows = conn.execute(f"SELECT {', '.join(SESSION_COLUMNS)} FROM sessions").fetchall()  # nosec B608
    conn.close()
    return {row[0]: tuple(bool(v) if c in BOOLEAN_COLUMNS else v for c, v in zip(SESSION_COLUMNS, row)) for row in rows}


def run_crash_test(
    redis_url: str,
    *,
    sessions: int,
    seed: int = 11,
    kill_after_s: tuple[float, float] = (0.2, 1.5),
    batch: int = 2000,
    max_kills: int = 1000,
    work_dir: Optional[Path] = None,
    progress: bool = False,
    cluster: bool = False,
) -> CrashReport:
    from netflix_clone.platform.connections import connect_redis

    started = time.perf_counter()
    events = simulate_population(sessions=sessions, users=max(10, sessions // 3), seed=seed, spread_s=600)
    reference = Sessionizer()
    for event in events:
        reference.add(event, event.ts)
    expected = {m.session_id: tuple(m.as_dict().values()) for m in reference.close_all()}

    client = connect_redis(redis_url, cluster=cluster)
    prefix = f"crash-test:{secrets.token_hex(4)}:"
    rng = random.Random(seed)
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        db = str(Path(tmp) / "sessions.sqlite")
        SqliteSink(Path(db)).close()
        try:
            publish_events(client, prefix + "events", [encode_event(e) for e in events])
            kills = mid_stream = 0
            probe = _consumer(redis_url, prefix, db, "probe", cluster=cluster)
            while kills < max_kills and probe.source.lag() > 0:
                ready = ctx.Event()
                worker = ctx.Process(
                    target=_consume_forever,
                    args=(redis_url, prefix, db, f"c{kills % 3}", batch, ready, cluster),
                )
                worker.start()
                ready.wait(60)
                time.sleep(rng.uniform(*kill_after_s))
                worker.kill()  # SIGKILL: no clean-up of any kind
                worker.join()
                kills += 1
                mid_stream += probe.source.lag() > 0
                if progress:
                    print(
                        f"crash test: kill {kills}, {probe.source.lag()} entries left",
                        file=sys.stderr,
                    )
            # Recovery: one last consumer runs until the stream is drained, then commits the rest (the
            # stream is over).
            final = _consumer(redis_url, prefix, db, "final", cluster=cluster)
            final.source.claim_idle_ms = 0
            idle = 0
            while idle < 3:
                idle = idle + 1 if final.step() == 0 else 0
            # Sessions whose close lease died with a killed consumer are retried once the lease expires.
            deadline = time.monotonic() + 30
            while final.store.open_count() and time.monotonic() < deadline:
                final.drain()
                time.sleep(0.1)
            got = _rows(Path(db))
        finally:
            for key in client.scan_iter(match=prefix + "*", count=1000):
                client.delete(key)
    return CrashReport(
        events_in=len(events),
        sessions_expected=len(expected),
        sessions_out=len(got),
        missing=len(expected.keys() - got.keys()),
        unexpected=len(got.keys() - expected.keys()),
        mismatched=sum(1 for sid in expected.keys() & got.keys() if expected[sid] != got[sid]),
        kills=kills,
        kills_mid_stream=mid_stream,
        seconds=round(time.perf_counter() - started, 1),
    )
