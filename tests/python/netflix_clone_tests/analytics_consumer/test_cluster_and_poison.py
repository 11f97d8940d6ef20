"""Scale-out on a real Redis Cluster, and the poison rules: an entry or a session that keeps failing is
dead-lettered with the reason, and never stalls the group or the valid sessions next to it."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from netflix_clone.analytics_consumer.adapters import session_store
from netflix_clone.analytics_consumer.adapters.redis_streams import publish_events
from netflix_clone.analytics_consumer.adapters.sinks import SqliteSink
from netflix_clone.analytics_consumer.consumer import StreamConsumer, consumer_for_prefix
from netflix_clone.analytics_consumer.domain.closing import ClosingRule
from netflix_clone.analytics_consumer.domain.session import SessionMetrics
from netflix_clone.analytics_consumer.domain.sessionizer import Sessionizer
from netflix_clone.contracts.player_events import encode_event
from netflix_clone.platform.connections import connect_redis
from netflix_clone.tools.analytics.crash_check import run_crash_test
from netflix_clone.tools.analytics.simulator import simulate_population
from netflix_clone_testing.backends import RedisNamespace

RULE = ClosingRule(inactivity_timeout_ms=86_400_000)
EVENTS = simulate_population(sessions=40, users=10, seed=31, spread_s=20)


def _expected() -> dict[str, SessionMetrics]:
    s = Sessionizer(RULE)
    for event in EVENTS:
        s.add(event, event.ts)
    return {m.session_id: m for m in s.close_all()}


def _drain(consumers: Sequence[StreamConsumer]) -> None:
    idle = 0
    while idle < 2:
        idle = idle + 1 if sum(c.step() for c in consumers) == 0 else 0
    consumers[0].drain()


def _sessions(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    found = {row[0] for row in conn.execute("SELECT session_id FROM sessions")}
    conn.close()
    return found


def test_two_consumers_on_a_redis_cluster(redis_cluster_url: str, tmp_path: Path) -> None:
    client = connect_redis(redis_cluster_url, cluster=True)
    # The stream is one key; the session store is spread over the cluster's slots by hash tag.
    publish_events(client, "c1:events", [encode_event(e) for e in EVENTS])
    db = tmp_path / "s.sqlite"
    a = consumer_for_prefix(client, "c1:", "a", [SqliteSink(db)], batch=200, rule=RULE)
    b = consumer_for_prefix(client, "c1:", "b", [SqliteSink(db)], batch=200, rule=RULE)
    _drain([a, b])
    assert _sessions(db) == set(_expected())
    keys = [a.store.shard_key(shard, "open") for shard in range(a.store.shards)]
    slots = {client.keyslot(key) for key in keys}
    nodes = {client.get_node_from_key(key).name for key in keys}
    assert len(slots) == a.store.shards and len(nodes) == 3  # no single hot node for the store
    assert a.store.open_count() == 0


def test_crash_check_on_a_redis_cluster(redis_cluster_url: str) -> None:
    report = run_crash_test(
        redis_cluster_url,
        sessions=30,
        kill_after_s=(0.05, 0.2),
        batch=100,
        max_kills=5,
        cluster=True,
    )
    assert report.kills >= 3, report
    assert (report.missing, report.unexpected, report.mismatched) == (0, 0, 0), report
    assert report.sessions_out == report.sessions_expected == 30


def test_an_entry_that_keeps_failing_is_dead_lettered_and_the_rest_stored(
    redis_ns: RedisNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in redis_ns.keys():
        redis_ns.client.delete(key)
    poison_sid = EVENTS[0].sid
    real_pack = session_store.pack_events

    def pack(events: Sequence[Any]) -> bytes:
        if events and events[0].sid == poison_sid:
            raise RuntimeError("cannot pack this session")  # a bug that only this input triggers
        return real_pack(events)

    monkeypatch.setattr(session_store, "pack_events", pack)
    publish_events(redis_ns.client, redis_ns.key("events"), [encode_event(e) for e in EVENTS])
    db = tmp_path / "p.sqlite"
    consumer = consumer_for_prefix(
        redis_ns.client,
        redis_ns.key(""),
        "p",
        [SqliteSink(db)],
        batch=500,
        claim_idle_ms=0,
        rule=RULE,
    )
    _drain([consumer])
    poisoned = [e for e in EVENTS if e.sid == poison_sid]
    dead = redis_ns.client.xrange(redis_ns.key("dead"))
    assert {f[b"reason"] for _, f in dead} == {b"processing_failed"}
    assert len(dead) == len(poisoned)  # each poisoned entry, after three deliveries
    assert b"cannot pack this session" in dead[0][1][b"detail"]
    assert _sessions(db) == set(_expected()) - {poison_sid}  # the rest of every batch was stored
    assert redis_ns.client.xpending(redis_ns.key("events"), "analytics")["pending"] == 0


class PickySink:
    """Refuses one session always; or everything while `down`."""

    def __init__(self, inner: Any, refuse: str) -> None:
        self.inner, self.refuse, self.down = inner, refuse, False

    def write(self, sessions: Sequence[SessionMetrics]) -> None:
        if self.down or any(s.session_id == self.refuse for s in sessions):
            raise ValueError("rejected by the sink")
        self.inner.write(sessions)

    def close(self) -> None:
        self.inner.close()


def test_a_session_a_sink_keeps_rejecting_is_dead_lettered_whole(redis_ns: RedisNamespace, tmp_path: Path) -> None:
    for key in redis_ns.keys():
        redis_ns.client.delete(key)
    refused = EVENTS[-1].sid
    sink = PickySink(SqliteSink(tmp_path / "k.sqlite"), refused)
    publish_events(redis_ns.client, redis_ns.key("events"), [encode_event(e) for e in EVENTS])
    consumer = consumer_for_prefix(redis_ns.client, redis_ns.key(""), "k", [sink], rule=RULE, lease_ms=1)
    sink.down = True  # an outage first: nothing may be dead-lettered for it
    idle = 0
    while idle < 2:
        idle = idle + 1 if consumer.step() == 0 else 0
    with pytest.raises(ValueError):
        consumer.drain()
    assert redis_ns.client.xlen(redis_ns.key("dead")) == 0
    sink.down = False
    for _ in range(consumer.poison_after):
        consumer.drain()
    dead = redis_ns.client.xrange(redis_ns.key("dead"))
    assert [f[b"reason"] for _, f in dead] == [b"sink_rejected"]
    assert dead[0][1][b"source_id"] == refused.encode()
    assert dead[0][1][b"payload"].count(b"\n") + 1 == sum(1 for e in EVENTS if e.sid == refused)
    assert _sessions(tmp_path / "k.sqlite") == set(_expected()) - {refused}
    assert consumer.store.open_count() == 0
