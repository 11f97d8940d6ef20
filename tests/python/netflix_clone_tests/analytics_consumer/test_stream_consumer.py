"""Redis Streams end to end on the real Redis: two consumers in one group, dead letters, a consumer that
dies mid-batch, and the result compared with an uninterrupted in-memory replay."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from netflix_clone.analytics_consumer.adapters.redis_streams import publish_events
from netflix_clone.analytics_consumer.adapters.session_store import SessionBatch
from netflix_clone.analytics_consumer.adapters.sinks import SESSION_COLUMNS, SqliteSink
from netflix_clone.analytics_consumer.consumer import StreamConsumer, consumer_for_prefix
from netflix_clone.analytics_consumer.domain.closing import ClosingRule
from netflix_clone.analytics_consumer.domain.sessionizer import Sessionizer
from netflix_clone.contracts.player_events import encode_event
from netflix_clone.tools.analytics.simulator import simulate_population
from netflix_clone_testing.backends import RedisNamespace

EVENTS = simulate_population(sessions=30, users=10, seed=9, spread_s=20)
BAD = [b"{oops", json.dumps({"v": 3, "type": "end", "sid": "x", "seq": 0, "ts": 1}).encode()]


# Everything is published at once, so receive time says nothing about play time: sessions close by
# their end or when the finished stream is drained, exactly as in a replay of the same events.
RULE = ClosingRule(inactivity_timeout_ms=86_400_000)


def _expected() -> dict[str, tuple]:
    sessionizer = Sessionizer(RULE)
    for event in EVENTS:
        sessionizer.add(event, event.ts)
    return {m.session_id: tuple(m.as_dict().values()) for m in sessionizer.close_all()}


def _rows(db: Path) -> dict[str, tuple]:
    conn = sqlite3.connect(db)
    cols = ", ".join(SESSION_COLUMNS)
    rows = conn.execute(f"SELECT {cols} FROM sessions").fetchall()
    conn.close()
    out = {}
    for row in rows:
        values = tuple(
            bool(v) if c in ("orphan", "exited_before_start", "start_failure", "playback_failure") else v
            for c, v in zip(SESSION_COLUMNS, row)
        )
        out[row[0]] = values
    return out


def _consumer(ns: RedisNamespace, name: str, db: Path, claim_idle_ms: int = 60_000) -> StreamConsumer:
    return consumer_for_prefix(
        ns.client,
        ns.key(""),
        name,
        [SqliteSink(db)],
        batch=400,
        claim_idle_ms=claim_idle_ms,
        rule=RULE,
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
    # The stream is over: commit whatever is still open.
    consumers[0].drain()


def test_two_consumers_share_a_group_and_produce_each_session_once(stream: RedisNamespace, tmp_path: Path) -> None:
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
    assert a.metrics.total(a.metrics.duplicates) + b.metrics.total(b.metrics.duplicates) == 1
    sessions = a.metrics.total(a.metrics.sessions) + b.metrics.total(b.metrics.sessions)
    assert sessions == len(_expected())


def test_a_consumer_that_dies_mid_batch_loses_nothing(stream: RedisNamespace, tmp_path: Path) -> None:
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
        # Dies between the sink commit and the clean-up: nothing forgotten, leases left to expire.
        patched.setattr(first.store, "forget", lambda sessions: [False] * len(sessions))
        idle = 0
        while idle < 2:
            idle = idle + 1 if first.step() == 0 else 0
        first.close_due(2**62, reason="end_of_input")
    assert first.store.open_count() == len(_expected())
    second = _consumer(stream, "second", db)
    second.drain()  # recomputes and upserts the same rows
    assert _rows(db) == _expected()
    assert second.store.open_count() == 0


def test_realtime_view_counts_viewers_and_rolls_qoe_per_cdn(stream: RedisNamespace, tmp_path: Path) -> None:
    from netflix_clone.contracts.player_events import End, FirstFrame, Heartbeat, PlayRequest

    consumer = _consumer(stream, "rt", tmp_path / "s.sqlite")
    store = consumer.store
    live = SessionBatch("live")
    live.add(PlayRequest(v=1, sid="live", seq=0, ts=5_000, user_id="u", cid="show", device="tv",
                         country="US", cdn="z"), 5_000)  # fmt: skip
    live.add(FirstFrame(v=1, sid="live", seq=1, ts=6_000), 6_000)
    live.add(Heartbeat(v=1, sid="live", seq=2, ts=20_000, pos_ms=14_000), 20_000)
    store.append([live])
    assert store.concurrent_viewers("show", now_ms=30_000) == 1
    assert store.concurrent_viewers("show", now_ms=90_000) == 0  # silent for over a minute
    ended = SessionBatch("live")
    ended.add(End(v=1, sid="live", seq=3, ts=31_000), 31_000)
    store.append([ended])
    assert store.concurrent_viewers("show", now_ms=31_000) == 0

    _drain([consumer])
    expected = _expected()
    by_cdn: dict[str, int] = {}
    for values in expected.values():
        cdn = values[SESSION_COLUMNS.index("cdn")]
        by_cdn[cdn] = by_cdn.get(cdn, 0) + 1
    ended_at = max(v[SESSION_COLUMNS.index("ended_at_ms")] for v in expected.values())
    for cdn, count in by_cdn.items():
        view = store.rolling_qoe(cdn, now_ms=ended_at, minutes=24 * 60)
        assert view["sessions"] == count
        assert 0.0 <= view["rebuffering_ratio"] <= 1.0
    assert store.rolling_qoe("z", now_ms=40_000)["sessions"] == 1


def test_realtime_view_holds_a_sessions_final_commit(stream: RedisNamespace, tmp_path: Path) -> None:
    """A session reopened by a late event replaces its earlier contribution instead of adding to it."""
    from netflix_clone.contracts.player_events import End, FirstFrame, Heartbeat, PlayRequest

    consumer = _consumer(stream, "final", tmp_path / "s.sqlite")
    store = consumer.store
    first = SessionBatch("late-one")
    first.add(PlayRequest(v=1, sid="late-one", seq=0, ts=0, user_id="u", cid="c", device="tv",
                          country="US", cdn="q"), 0)  # fmt: skip
    first.add(FirstFrame(v=1, sid="late-one", seq=1, ts=1_000), 1_000)
    first.add(End(v=1, sid="late-one", seq=3, ts=61_000), 61_000)
    store.append([first])
    assert consumer.close_due(100_000) == 1
    before = store.rolling_qoe("q", now_ms=61_000, minutes=2)
    assert before["sessions"] == 1
    late = SessionBatch("late-one")
    late.add(Heartbeat(v=1, sid="late-one", seq=2, ts=30_000, pos_ms=29_000), 90_000)
    assert not store.append([late]).late  # within the retention: the session reopens
    assert consumer.close_due(200_000) == 1
    after = store.rolling_qoe("q", now_ms=61_000, minutes=2)
    assert after["sessions"] == 1  # replaced, not added
    assert consumer.metrics.total(consumer.metrics.reopened) == 1
    assert consumer.metrics.total(consumer.metrics.commits) == 2
    assert consumer.metrics.total(consumer.metrics.sessions) == 1
