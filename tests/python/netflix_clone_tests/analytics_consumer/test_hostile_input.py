"""No payload or clock can stop or corrupt analytics: every input ends stored or dead-lettered with a
stable reason, and the valid sessions next to it are written - through replay, the stream path and
every sink (SQLite, JSON lines, PostgreSQL)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netflix_clone.analytics_consumer.adapters.redis_streams import publish_events
from netflix_clone.analytics_consumer.adapters.sinks import (
    SESSION_COLUMNS,
    JsonLinesSink,
    PostgresSink,
    SessionSink,
    SqliteSink,
)
from netflix_clone.analytics_consumer.consumer import StreamConsumer, consumer_for_prefix
from netflix_clone.analytics_consumer.domain.closing import ClosingRule
from netflix_clone.analytics_consumer.domain.sessionizer import Sessionizer
from netflix_clone.analytics_consumer.replay import replay_lines
from netflix_clone.contracts.player_events import EventError, Heartbeat, decode_event, encode_event
from netflix_clone.tools.analytics.simulator import simulate_population
from netflix_clone_testing.backends import RedisNamespace

RULE = ClosingRule(inactivity_timeout_ms=86_400_000)
VALID = simulate_population(sessions=6, users=4, seed=21, spread_s=10)
BASE = {"v": 1, "sid": "h1", "seq": 0, "ts": VALID[0].ts}


def _j(**fields: Any) -> bytes:
    return json.dumps({**BASE, **fields}).encode()


# The payloads of issue 15, each with the reason it must be dead-lettered with.
HOSTILE: list[tuple[str, bytes, str]] = [
    ("nested arrays, depth 1000", b"[" * 1000 + b"]" * 1000, "invalid_event"),
    ("nested in an unknown field", _j(type="end", junk=None)[:-1] + b',"x":' + b"[" * 1000 + b"]" * 1000 + b"}",
     "too_nested"),
    ("invalid UTF-8 in a known string", b'{"v":1,"type":"end","sid":"\xff\xfe","seq":0,"ts":1}', "invalid_utf8"),
    ("seq >= 2**63", _j(type="end", seq=2**63), "invalid_event"),
    ("ts >= 2**63", _j(type="end", ts=2**63), "invalid_event"),
    ("NUL in a string", _j(type="end", sid="a\u0000b"), "invalid_event"),
    ("control character in a label", _j(type="play_request", user_id="u", cid="c", device="tv\u001b",
                                        country="US", cdn="x"), "invalid_event"),
    ("1 MB session id", _j(type="end", sid="s" * 1_000_000), "payload_too_large"),
    ("long session id", _j(type="end", sid="s" * 129), "invalid_event"),
    ("long CDN name", _j(type="play_request", user_id="u", cid="c", device="tv", country="US", cdn="c" * 65),
     "invalid_event"),
    ("1 MB unknown field", _j(type="end", junk="x" * 1_000_000), "payload_too_large"),
    ("negative br", _j(type="rendition_change", br=-1, width=1, height=1), "invalid_event"),
    ("negative width", _j(type="rendition_change", br=1, width=-1, height=1), "invalid_event"),
    ("negative pos_ms", _j(type="heartbeat", pos_ms=-5), "invalid_event"),
    ("negative seek to_ms", _j(type="seek", from_ms=1, to_ms=-1), "invalid_event"),
    ("NaN duration", b'{"v":1,"type":"play_request","sid":"h","seq":0,"ts":1,"user_id":"u","cid":"c",'
                     b'"device":"d","country":"US","cdn":"x","duration_s":1e400}', "invalid_event"),
    ("not JSON", b"{oops", "malformed_json"),
    ("empty", b"", "malformed_json"),
    ("newer schema", _j(type="end", v=2), "unsupported_version"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "payload", "reason"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_each_hostile_payload_gets_its_stable_reason(name: str, payload: bytes, reason: str) -> None:
    with pytest.raises(EventError) as caught:
        decode_event(payload)
    assert caught.value.reason == reason, (name, caught.value)


def _expected(events: list[Any]) -> dict[str, tuple[Any, ...]]:
    sessionizer = Sessionizer(RULE)
    for event in events:
        sessionizer.add(event, event.ts)
    return {m.session_id: tuple(m.as_dict().values()) for m in sessionizer.close_all()}


BOOLEANS = {"orphan", "exited_before_start", "start_failure", "playback_failure"}


def _sqlite_rows(db: Path) -> dict[str, tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    rows = conn.execute(f"SELECT {', '.join(SESSION_COLUMNS)} FROM sessions").fetchall()  # nosec B608
    conn.close()
    return {r[0]: tuple(bool(v) if c in BOOLEANS else v for c, v in zip(SESSION_COLUMNS, r)) for r in rows}


def _postgres_rows(dsn: str) -> dict[str, tuple[Any, ...]]:
    conn = psycopg2.connect(dsn)
    with conn.cursor() as cur:
        cur.execute(f"SELECT {', '.join(SESSION_COLUMNS)} FROM sessions")  # nosec B608
        rows = cur.fetchall()
    conn.close()
    return {r[0]: tuple(r) for r in rows}


def _mixed() -> list[bytes]:
    """Valid events with every hostile payload in between."""
    lines = [encode_event(e) for e in VALID]
    step = len(lines) // (len(HOSTILE) + 1)
    for index, (_, payload, _) in enumerate(HOSTILE):
        lines.insert((index + 1) * step + index, payload)
    return lines


def test_replay_skips_each_bad_line_and_writes_every_valid_session(tmp_path: Path, pg_dsn: str) -> None:
    lines = _mixed()
    db, jsonl = tmp_path / "r.sqlite", tmp_path / "r.jsonl"
    sinks: list[SessionSink] = [SqliteSink(db), JsonLinesSink(jsonl), PostgresSink(pg_dsn)]
    result, _ = replay_lines(enumerate(lines, start=1), sinks, RULE)
    for sink in sinks:
        sink.close()
    assert result.events == len(lines)
    assert result.stored + len(result.dead_letters) == len(lines)  # every line accounted for
    assert sorted(d.reason for d in result.dead_letters) == sorted(h[2] for h in HOSTILE)
    expected = _expected(VALID)
    assert _sqlite_rows(db) == expected
    assert {json.loads(line)["session_id"] for line in jsonl.read_text().splitlines()} == set(expected)
    pg = _postgres_rows(pg_dsn)
    assert set(pg) == set(expected)
    assert all(pg[s][SESSION_COLUMNS.index("play_ms")] == expected[s][SESSION_COLUMNS.index("play_ms")] for s in pg)


def _drain(consumer: StreamConsumer) -> None:
    idle = 0
    while idle < 2:
        idle = idle + 1 if consumer.step() == 0 else 0
    consumer.drain()


@pytest.fixture()
def ns(redis_ns: RedisNamespace) -> Iterator[RedisNamespace]:
    for key in redis_ns.keys():
        redis_ns.client.delete(key)
    yield redis_ns


def test_stream_dead_letters_each_bad_entry_and_writes_every_valid_session(
    ns: RedisNamespace, tmp_path: Path, pg_dsn: str
) -> None:
    lines = _mixed()
    publish_events(ns.client, ns.key("events"), lines)
    db = tmp_path / "s.sqlite"
    consumer = consumer_for_prefix(
        ns.client, ns.key(""), "c", [SqliteSink(db), PostgresSink(pg_dsn)], batch=50, rule=RULE
    )
    _drain(consumer)
    dead = ns.client.xrange(ns.key("dead"))
    assert sorted(f[b"reason"].decode() for _, f in dead) == sorted(h[2] for h in HOSTILE)
    stored = consumer.metrics.total(consumer.metrics.stored)
    assert stored + len(dead) == len(lines)  # every entry accounted for
    assert ns.client.xpending(ns.key("events"), "analytics")["pending"] == 0
    expected = _expected(VALID)
    assert _sqlite_rows(db) == expected
    assert set(_postgres_rows(pg_dsn)) == set(expected)


payloads = st.one_of(
    st.binary(max_size=400),
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=30),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=20,
    ).map(lambda v: json.dumps(v, allow_nan=True).encode()),
    st.builds(
        lambda t, extra: json.dumps({**BASE, "type": t, **extra}).encode(),
        st.sampled_from(["heartbeat", "end", "play_request", "seek", "rendition_change", "error", "x"]),
        st.dictionaries(
            st.sampled_from(["pos_ms", "br", "width", "height", "to_ms", "from_ms", "sid", "seq", "ts", "cdn",
                             "user_id", "cid", "device", "country", "code", "fatal", "duration_s"]),
            st.one_of(st.integers(-(2**64), 2**64), st.text(max_size=140), st.booleans(), st.none(),
                      st.floats(allow_nan=True)),
            max_size=6,
        ),
    ),
)  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(payloads, min_size=1, max_size=30))
def test_fuzzed_batches_never_stop_the_stream_or_lose_a_valid_session(
    ns: RedisNamespace, tmp_path_factory: pytest.TempPathFactory, junk: list[bytes]
) -> None:
    for key in ns.keys():
        ns.client.delete(key)
    lines = [encode_event(e) for e in VALID[:60]] + junk
    publish_events(ns.client, ns.key("events"), lines)
    db = tmp_path_factory.mktemp("fuzz") / "s.sqlite"
    consumer = consumer_for_prefix(ns.client, ns.key(""), "f", [SqliteSink(db)], batch=40, rule=RULE)
    _drain(consumer)
    dead = ns.client.xlen(ns.key("dead"))
    assert consumer.metrics.total(consumer.metrics.stored) + dead == len(lines)
    assert ns.client.xpending(ns.key("events"), "analytics")["pending"] == 0
    rows = _sqlite_rows(db)
    for sid in {e.sid for e in VALID[:60]}:
        assert sid in rows  # the valid sessions of the batch were written, whatever came with them
    replayed, _ = replay_lines(enumerate(lines), [SqliteSink(db.with_suffix(".replay"))], RULE)
    assert replayed.stored + len(replayed.dead_letters) == len(lines)


def test_one_heartbeat_a_day_ahead_changes_nothing(ns: RedisNamespace, tmp_path: Path) -> None:
    """Issue 15, case 3: one valid heartbeat stamped a day ahead in a 300-session simulation."""
    # Played in the last minutes, as the stream would carry them live (receive time = now).
    start = int(time.time() * 1000) - 400_000
    events = simulate_population(
        sessions=300, users=60, seed=8, start_ms=start, spread_s=120, durations_s=(60.0, 120.0)
    )
    victim = events[len(events) // 2]
    skewed = Heartbeat(v=1, sid=victim.sid, seq=10**6, ts=victim.ts + 86_400_000, pos_ms=1)
    lines = [encode_event(e) for e in events]
    lines.insert(len(lines) // 2 + 1, encode_event(skewed))
    expected = _expected(events)

    replayed_db = tmp_path / "replay.sqlite"
    result, sessionizer = replay_lines(enumerate(lines), [SqliteSink(replayed_db)], RULE)
    assert [d.reason for d in result.dead_letters] == ["clock_skew"]
    assert sessionizer.late == 0 and result.stored == len(events)
    assert _sqlite_rows(replayed_db) == expected

    publish_events(ns.client, ns.key("events"), lines)
    db = tmp_path / "stream.sqlite"
    consumer = consumer_for_prefix(ns.client, ns.key(""), "skew", [SqliteSink(db)], batch=2000, rule=RULE)
    _drain(consumer)
    assert [f[b"reason"] for _, f in ns.client.xrange(ns.key("dead"))] == [b"clock_skew"]
    assert _sqlite_rows(db) == expected
    assert consumer.metrics.total(consumer.metrics.commits) == 300  # one commit per session
    # The real-time view holds each session's final commit: its play time is the sessions' play time.
    play = sum(v[SESSION_COLUMNS.index("play_ms")] for v in expected.values())
    cdns = {v[SESSION_COLUMNS.index("cdn")] for v in expected.values()}
    last = max(v[SESSION_COLUMNS.index("ended_at_ms")] for v in expected.values())
    shown = sum(consumer.store.rolling_qoe(cdn, now_ms=last, minutes=60)["play_ms"] for cdn in cdns)
    assert shown == play


def test_events_without_a_play_request_are_orphans(ns: RedisNamespace, tmp_path: Path) -> None:
    orphan = [Heartbeat(v=1, sid="orphan-1", seq=i, ts=VALID[0].ts + i * 10_000, pos_ms=i) for i in range(1, 4)]
    publish_events(ns.client, ns.key("events"), [encode_event(e) for e in orphan])
    db = tmp_path / "o.sqlite"
    consumer = consumer_for_prefix(ns.client, ns.key(""), "o", [SqliteSink(db)], rule=RULE)
    _drain(consumer)
    row = _sqlite_rows(db)["orphan-1"]
    assert row[SESSION_COLUMNS.index("orphan")] is True
    assert row[SESSION_COLUMNS.index("exited_before_start")] is False
    assert row[SESSION_COLUMNS.index("qoe_score")] is None
