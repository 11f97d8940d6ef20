"""Redis Streams end to end on the real Redis: two consumers in one group, dead letters, a consumer that
dies mid-batch, and the result compared with an uninterrupted in-memory replay."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from netflix_clone.analytics_consumer.adapters.redis_streams import publish_events
from netflix_clone.analytics_consumer.adapters.sinks import SESSION_COLUMNS, SqliteSink
from netflix_clone.analytics_consumer.consumer import StreamConsumer, consumer_for_prefix
from netflix_clone.analytics_consumer.domain.sessionizer import Sessionizer
from netflix_clone.analytics_consumer.domain.simulator import simulate_population
from netflix_clone.contracts.player_events import encode_event
from netflix_clone_testing.backends import RedisNamespace

EVENTS = simulate_population(sessions=30, users=10, seed=9, spread_s=20)
BAD = [b"{oops", json.dumps({"v": 3, "type": "end", "sid": "x", "seq": 0, "ts": 1}).encode()]


def _expected() -> dict[str, tuple]:
    sessionizer = Sessionizer()
    for event in EVENTS:
        sessionizer.add(event)
    return {
        c.metrics.session_id: tuple(c.metrics.as_dict().values()) for c in sessionizer.close_all()
    }


def _rows(db: Path) -> dict[str, tuple]:
    conn = sqlite3.connect(db)
    cols = ", ".join(SESSION_COLUMNS)
    rows = conn.execute(f"SELECT {cols} FROM sessions").fetchall()
    conn.close()
    out = {}
    for row in rows:
        values = tuple(
            bool(v) if c in ("exited_before_start", "start_failure", "playback_failure") else v
            for c, v in zip(SESSION_COLUMNS, row)
        )
        out[row[0]] = values
    return out


def _consumer(
    ns: RedisNamespace, name: str, db: Path, claim_idle_ms: int = 60_000
) -> StreamConsumer:
    return consumer_for_prefix(
        ns.client, ns.key(""), name, [SqliteSink(db)], batch=400, claim_idle_ms=claim_idle_ms
    )


@pytest.fixture()
def stream(redis_ns: RedisNamespace):
    for key in redis_ns.keys():
        redis_ns.client.delete(key)
    payloads = [encode_event(e) for e in EVENTS]
    payloads[100:100] = BAD[:1]
    payloads[500:500] = BAD[1:]
    payloads[700:700] = [payloads[650]]  # a duplicate delivery
    publish_events(redis_ns.client, redis_ns.key("events"), payloads)
    return redis_ns


def _drain(consumers: list[StreamConsumer]) -> None:
    idle_rounds = 0
    while idle_rounds < 2:
        read = sum(c.step() for c in consumers)
        idle_rounds = idle_rounds + 1 if read == 0 else 0
    # The stream is over: close whatever is left at the end of event time.
    consumers[0].close_due((consumers[0].store.watermark() or 0) + 10**9)


def test_two_consumers_share_a_group_and_produce_each_session_once(
    stream: RedisNamespace, tmp_path: Path
) -> None:
    db = tmp_path / "s.sqlite"
    a, b = _consumer(stream, "a", db), _consumer(stream, "b", db)
    _drain([a, b])
    assert _rows(db) == _expected()
    dead = stream.client.xrange(stream.key("dead"))
    assert sorted(f[b"reason"] for _, f in dead) == [b"malformed_json", b"unsupported_version"]
    assert dead[0][1][b"payload"] == b"{oops"
    info = stream.client.xpending(stream.key("events"), "analytics")
    assert info["pending"] == 0
    assert a.store.open_count() == 0
    assert a.store.duplicates + b.store.duplicates == 1


def test_a_consumer_that_dies_mid_batch_loses_nothing(
    stream: RedisNamespace, tmp_path: Path
) -> None:
    db = tmp_path / "s.sqlite"
    doomed = _consumer(stream, "doomed", db)
    doomed.source.read()  # took 400 entries and died before storing or acking them
    survivor = _consumer(stream, "survivor", db, claim_idle_ms=0)
    _drain([survivor])
    assert _rows(db) == _expected()
    assert stream.client.xpending(stream.key("events"), "analytics")["pending"] == 0


def test_a_crash_after_commit_before_forget_does_not_double_count(
    stream: RedisNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "s.sqlite"
    first = _consumer(stream, "first", db)
    first.store.lease_ms = 1
    with monkeypatch.context() as patched:
        patched.setattr(
            first.store, "forget", lambda sids, titles=None: None
        )  # dies between sink commit and clean-up
        _drain([first])
    second = _consumer(stream, "second", db)
    second.close_due(
        (second.store.watermark() or 0) + 10**9
    )  # recomputes and upserts the same rows
    assert _rows(db) == _expected()
    assert second.store.open_count() == 0


def test_realtime_view_counts_viewers_and_rolls_qoe_per_cdn(
    stream: RedisNamespace, tmp_path: Path
) -> None:
    from netflix_clone.contracts.player_events import (
        End,
        FirstFrame,
        Heartbeat,
        PlayerEvent,
        PlayRequest,
    )

    consumer = _consumer(stream, "rt", tmp_path / "s.sqlite")
    store = consumer.store
    live: list[PlayerEvent] = [
        PlayRequest(
            v=1,
            sid="live",
            seq=0,
            ts=5_000,
            user_id="u",
            cid="show",
            device="tv",
            country="US",
            cdn="z",
        ),
        FirstFrame(v=1, sid="live", seq=1, ts=6_000),
        Heartbeat(v=1, sid="live", seq=2, ts=20_000, pos_ms=14_000),
    ]
    store.add([(e, encode_event(e)) for e in live])
    assert store.concurrent_viewers("show", now_ms=30_000) == 1
    assert store.concurrent_viewers("show", now_ms=90_000) == 0  # silent for over a minute
    end = End(v=1, sid="live", seq=3, ts=31_000)
    store.add([(end, encode_event(end))])
    assert store.concurrent_viewers("show", now_ms=31_000) == 0

    _drain([consumer])
    expected = _expected()
    by_cdn: dict[str, int] = {}
    for values in expected.values():
        cdn = values[SESSION_COLUMNS.index("cdn")]
        by_cdn[cdn] = by_cdn.get(cdn, 0) + 1
    ended = max(v[SESSION_COLUMNS.index("ended_at_ms")] for v in expected.values())
    for cdn, count in by_cdn.items():
        view = store.rolling_qoe(cdn, now_ms=ended, minutes=24 * 60)
        assert view["sessions"] == count
        assert 0.0 <= view["rebuffering_ratio"] <= 1.0
    assert store.rolling_qoe("z", now_ms=40_000)["sessions"] == 1
