"""Open sessions kept in Redis, so any number of consumers in one group can share a stream.

A consumer group hands a session's events to different consumers; keeping each session's events in Redis
(not in one consumer's memory) makes every consumer see whole sessions, survives consumer crashes, and
bounds consumer memory.

Keys (PREFIX = the store's prefix):
  PREFIX s:{sid}      hash seq -> raw event (HSETNX: a duplicate is a no-op); _last, _end, _reason, _cid
  PREFIX open         sorted set of sid by due time: end/fatal ts + reorder window, else last ts + timeout
  PREFIX closed:{sid} tombstone (long TTL): the session was committed
  PREFIX lock:{sid}   lease (SET NX PX) held while one consumer closes the session

An event is acked once `add` stored it (it is then as durable as the stream it came from). Closing is
revisable: a committed session keeps its events for `retention_ms`, and an event that arrives late (say,
reclaimed from a consumer that died holding it while the others' watermark moved on) reopens it; it is
recomputed from all its events and upserted over the earlier row. Sinks upsert by session id, so the final
row is the whole session's, written once per key. Only events later than the retention are dropped (and
counted as late): by then the session's events are gone and a partial recomputation would be wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

from netflix_clone.analytics_consumer.domain.session import SessionMetrics, compute_session
from netflix_clone.contracts.player_events import End, Error, PlayerEvent, PlayRequest, decode_event

__all__ = ["RedisSessionStore", "StoredSession"]

# KEYS: session hash, open zset, tombstone. ARGV: seq, payload, ts, end_reason ('' if none),
# reorder window ms, inactivity timeout ms, sid, title id ('' unless play_request), key prefix.
# Returns 1 stored, 0 duplicate, -1 late. The viewers key is derived in the script, so the real-time
# view needs a single Redis node (or Sentinel); on Redis Cluster, disable it.
_ADD = """
local retained = redis.call('EXISTS', KEYS[1]) == 1
if redis.call('EXISTS', KEYS[3]) == 1 and not retained then return -1 end
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('PERSIST', KEYS[1])
local ts = tonumber(ARGV[3])
local last = tonumber(redis.call('HGET', KEYS[1], '_last') or '-1')
if ts > last then redis.call('HSET', KEYS[1], '_last', ts); last = ts end
local ending = redis.call('HGET', KEYS[1], '_end')
if not ending and ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], '_end', ts, '_reason', ARGV[4])
  ending = ts
end
local due
if ending then due = tonumber(ending) + tonumber(ARGV[5]) else due = last + tonumber(ARGV[6]) end
redis.call('ZADD', KEYS[2], due, ARGV[7])
if ARGV[8] ~= '' then redis.call('HSET', KEYS[1], '_cid', ARGV[8]) end
local cid = redis.call('HGET', KEYS[1], '_cid')
if cid then
  local viewers = ARGV[9] .. 'rt:viewers:' .. cid
  if ending then
    redis.call('ZREM', viewers, ARGV[7])
  else
    redis.call('ZADD', viewers, 'GT', ts, ARGV[7])
    redis.call('PEXPIRE', viewers, 3600000)
  end
end
return 1
"""

_RAISE_WATERMARK = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1]); return tonumber(ARGV[1]) end
return current
"""


@dataclass(frozen=True)
class StoredSession:
    sid: str
    metrics: SessionMetrics


class RedisSessionStore:
    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "analytics:",
        reorder_window_ms: int = 5_000,
        inactivity_timeout_ms: int = 120_000,
        tombstone_ttl_s: int = 86_400,
        retention_ms: int = 3_600_000,
        lease_ms: int = 60_000,
        owner: str = "consumer",
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.reorder_window_ms = reorder_window_ms
        self.inactivity_timeout_ms = inactivity_timeout_ms
        self.tombstone_ttl_s = tombstone_ttl_s
        self.retention_ms = retention_ms
        self.lease_ms = lease_ms
        self.owner = owner
        self._add = client.register_script(_ADD)
        self._raise = client.register_script(_RAISE_WATERMARK)
        self.duplicates = 0
        self.late = 0

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def add(self, events: Sequence[tuple[PlayerEvent, bytes]]) -> None:
        """Store a batch of decoded events (with their raw payloads) in one pipeline."""
        pipe = self.client.pipeline(transaction=False)
        for event, raw in events:
            reason = ""
            if isinstance(event, End):
                reason = "end"
            elif isinstance(event, Error) and event.fatal:
                reason = "fatal_error"
            self._add(
                keys=[self._k("s", event.sid), self._k("open"), self._k("closed", event.sid)],
                args=[
                    event.seq,
                    raw,
                    event.ts,
                    reason,
                    self.reorder_window_ms,
                    self.inactivity_timeout_ms,
                    event.sid,
                    event.cid if isinstance(event, PlayRequest) else "",
                    self.prefix,
                ],
                client=pipe,
            )
        for result in pipe.execute():
            if result == 0:
                self.duplicates += 1
            elif result == -1:
                self.late += 1

    def open_count(self) -> int:
        return int(self.client.zcard(self._k("open")))

    def due(
        self, watermark_ms: int, limit: int = 500, reason: Optional[str] = None
    ) -> list[StoredSession]:
        """Compute the sessions due at `watermark_ms` whose close lease this consumer won."""
        raw = self.client.zrangebyscore(self._k("open"), "-inf", watermark_ms, start=0, num=limit)
        sids = [r.decode() if isinstance(r, bytes) else r for r in raw]
        # Two round trips per page, not two per session: this runs for every session that closes.
        leases = self.client.pipeline(transaction=False)
        for sid in sids:
            leases.set(self._k("lock", sid), self.owner, nx=True, px=self.lease_ms)
        won = [sid for sid, got in zip(sids, leases.execute()) if got]
        reads = self.client.pipeline(transaction=False)
        for sid in won:
            reads.hgetall(self._k("s", sid))
        ready: list[StoredSession] = []
        for sid, stored in zip(won, reads.execute()):
            events = [decode_event(v) for k, v in stored.items() if not k.startswith(b"_")]
            if not events:
                self.client.zrem(self._k("open"), sid)
                continue
            close_reason = reason or stored.get(b"_reason", b"inactivity").decode()
            ready.append(StoredSession(sid, compute_session(events, close_reason)))
        return ready

    def forget(self, sids: Sequence[str], titles: Optional[Sequence[Optional[str]]] = None) -> None:
        """After the sinks committed: close the sessions, keeping their events for `retention_ms`."""
        pipe = self.client.pipeline(transaction=True)
        for sid, title in zip(sids, titles or [None] * len(sids)):
            if title:
                pipe.zrem(self._k("rt", "viewers", title), sid)
            pipe.zrem(self._k("open"), sid)
            pipe.pexpire(self._k("s", sid), self.retention_ms)
            pipe.delete(self._k("lock", sid))
            pipe.set(self._k("closed", sid), 1, ex=self.tombstone_ttl_s)
        pipe.execute()

    def release(self, sids: Sequence[str]) -> None:
        """Give up leases without closing (the sinks failed): another attempt recomputes them."""
        if sids:
            self.client.delete(*[self._k("lock", sid) for sid in sids])

    def concurrent_viewers(self, title: str, now_ms: int, window_ms: int = 60_000) -> int:
        """Sessions of `title` that sent an event within `window_ms` of `now_ms` and have not ended."""
        return int(self.client.zcount(self._k("rt", "viewers", title), now_ms - window_ms, "+inf"))

    def record_qoe(self, sessions: Sequence[SessionMetrics], bucket_ttl_s: int = 7200) -> None:
        """Per-CDN, per-minute QoE sums for the rolling view (written when sessions commit)."""
        # A session reopened by a late event is committed again; the rolling view counts it once.
        firsts = self.client.pipeline(transaction=False)
        for m in sessions:
            firsts.hsetnx(self._k("s", m.session_id), "_qoe_recorded", 1)
        first_time = firsts.execute()
        pipe = self.client.pipeline(transaction=False)
        for m, first in zip(sessions, first_time):
            if not m.cdn or not first:
                continue
            key = self._k("rt", "qoe", m.cdn, str(m.ended_at_ms // 60_000))
            pipe.hincrby(key, "sessions", 1)
            pipe.hincrby(key, "play_ms", m.play_ms)
            pipe.hincrby(key, "stall_ms", m.stall_ms)
            pipe.hincrby(key, "failures", int(m.start_failure or m.playback_failure))
            if m.qoe_score is not None:
                pipe.hincrby(key, "scored", 1)
                pipe.hincrbyfloat(key, "score_sum", m.qoe_score)
            pipe.expire(key, bucket_ttl_s)
        pipe.execute()

    def rolling_qoe(self, cdn: str, now_ms: int, minutes: int = 5) -> dict[str, float]:
        """QoE of sessions that ended on `cdn` in the last `minutes` minutes."""
        last = now_ms // 60_000
        pipe = self.client.pipeline(transaction=False)
        for minute in range(last - minutes + 1, last + 1):
            pipe.hgetall(self._k("rt", "qoe", cdn, str(minute)))
        totals: dict[str, float] = {}
        for bucket in pipe.execute():
            for field, value in bucket.items():
                name = field.decode() if isinstance(field, bytes) else field
                totals[name] = totals.get(name, 0.0) + float(value)
        sessions = totals.get("sessions", 0.0)
        stall, play = totals.get("stall_ms", 0.0), totals.get("play_ms", 0.0)
        return {
            "sessions": sessions,
            "avg_qoe_score": totals["score_sum"] / totals["scored"]
            if totals.get("scored")
            else float("nan"),
            "rebuffering_ratio": stall / (stall + play) if stall + play > 0 else 0.0,
            "failure_rate": totals.get("failures", 0.0) / sessions if sessions else 0.0,
        }

    def watermark(self) -> Optional[int]:
        value = self.client.get(self._k("watermark"))
        return int(value) if value is not None else None

    def raise_watermark(self, ts: int) -> int:
        """The shared event-time watermark: the largest client timestamp any consumer has seen."""
        return int(self._raise(keys=[self._k("watermark")], args=[ts]))
