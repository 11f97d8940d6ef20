"""Sinks upsert by session id: writing the same sessions twice counts them once."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg2

from netflix_clone.analytics_consumer.adapters.sinks import PostgresSink, SqliteSink
from netflix_clone.analytics_consumer.domain.sessionizer import Sessionizer
from netflix_clone.tools.analytics.simulator import simulate_population


def _sessions():
    sessionizer = Sessionizer()
    for event in simulate_population(sessions=25, users=8, seed=4, spread_s=30):
        sessionizer.add(event, event.ts)
    return sessionizer.close_all()


SESSIONS = _sessions()


def _one(cur: Any) -> Any:
    row = cur.fetchone()
    assert row is not None
    return row


def test_postgres_sink_is_idempotent_and_feeds_the_contract_table(pg_dsn: str) -> None:
    sink = PostgresSink(pg_dsn)
    sink.write(SESSIONS)
    sink.write(SESSIONS)  # redelivery
    corrected = replace(SESSIONS[0], qoe_score=1.0)
    sink.write([corrected])
    sink.close()
    conn = psycopg2.connect(pg_dsn)
    with conn.cursor() as cur:
        cur.execute("SELECT count(*), count(DISTINCT session_id) FROM sessions")
        assert _one(cur) == (len(SESSIONS), len(SESSIONS))
        cur.execute("SELECT qoe_score FROM sessions WHERE session_id = %s", (corrected.session_id,))
        assert _one(cur) == (1.0,)
        played = [s for s in SESSIONS if s.play_ms > 0]
        cur.execute("SELECT count(*), sum(watched_seconds) FROM viewing_history")
        count, watched = _one(cur)
        assert count == len(played)
        assert abs(watched - sum(s.watched_s for s in played)) < 1e-6
        cur.execute(
            "SELECT sum(sessions), sum(exits_before_start + start_failures + playback_failures) FROM qoe_per_minute"
        )
        total, bad = _one(cur)
        assert total == len(SESSIONS)
        assert bad == sum(s.exited_before_start + s.start_failure + s.playback_failure for s in SESSIONS)
    conn.close()


def test_sqlite_sink_is_idempotent(tmp_path: Path) -> None:
    sink = SqliteSink(tmp_path / "a.sqlite")
    sink.write(SESSIONS)
    sink.write(SESSIONS)
    sink.close()
    conn = sqlite3.connect(tmp_path / "a.sqlite")
    assert conn.execute("SELECT count(*) FROM sessions").fetchone() == (len(SESSIONS),)
    assert conn.execute("SELECT count(*) FROM viewing_history").fetchone() == (sum(s.play_ms > 0 for s in SESSIONS),)


def test_the_sql_view_computes_the_rebuffering_ratio_of_domain_qoe(pg_dsn: str) -> None:
    """``qoe_per_minute.rebuffering_ratio`` is generated from ``domain/qoe.py``; on real PostgreSQL it
    equals ``rebuffering_ratio`` of the group's sums, for every group (stalls, none, no play at all)."""
    from collections import defaultdict

    from netflix_clone.analytics_consumer.domain.qoe import rebuffering_ratio

    base = replace(SESSIONS[0], orphan=False)
    sessions = [
        *SESSIONS,
        replace(base, session_id="no-play", play_ms=0, stall_ms=0, cdn="cdn-idle"),
        replace(base, session_id="stall-only", play_ms=0, stall_ms=900, cdn="cdn-stall"),
        # One group of two: the ratio of the sums (2/182), not the mean of the ratios.
        replace(base, session_id="pooled-1", play_ms=120_000, stall_ms=2_000, cdn="cdn-pool"),
        replace(base, session_id="pooled-2", play_ms=60_000, stall_ms=0, cdn="cdn-pool"),
    ]
    sink = PostgresSink(pg_dsn)
    sink.write(sessions)
    sink.close()
    sums: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
    for s in sessions:
        if not s.orphan:
            key = (s.started_at_ms // 60_000, s.title_id, s.cdn, s.device, s.country)
            sums[key][0] += s.stall_ms
            sums[key][1] += s.play_ms
    conn = psycopg2.connect(pg_dsn)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT (extract(epoch FROM minute) / 60)::bigint, title_id, cdn, device, country, rebuffering_ratio"
            " FROM qoe_per_minute"
        )
        rows = cur.fetchall()
    conn.close()
    assert len(rows) == len(sums)
    for row in rows:
        stall, play = sums[tuple(row[:5])]
        assert abs(row[5] - rebuffering_ratio(stall, play)) < 1e-12, (row, stall, play)
