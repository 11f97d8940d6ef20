"""Open sessions kept in Redis - or Redis Cluster - so any number of consumers can share a stream.

Long module: the two Lua scripts, the key layout they and the Python side share, and the store that calls
them are one protocol; split apart, a change to a key or an argument would have to be made in two files.

A consumer group hands a session's events to different consumers; keeping them in Redis (not in one
consumer's memory) lets every consumer see whole sessions, survives consumer crashes and bounds memory.

Sharding: a session belongs to shard ``crc32(sid) % shards``. Every key of a shard carries the hash tag
``{s<k>}``, so each script call touches one cluster slot, and there is no global key on the per-event
path: the open-session index, the real-time view and the per-session data are all per shard.

Keys (P = prefix, k = shard)::

  P{sk}:open              zset sid -> receive time (ms) of its latest event
  P{sk}:ended             zset sid -> receive time of its first end / fatal error
  P{sk}:e:<sid>           the session's events: length-prefixed msgpack batches, appended
  P{sk}:cid               hash sid -> title id (for the real-time viewers)
  P{sk}:done:<sid>        committed: the row's real-time contribution (kept ``tombstone_ttl_s``)
  P{sk}:lock:<sid>        lease while one consumer commits the session
  P{sk}:rt:viewers:<cid>  zset sid -> last receive time, sessions of a title not yet ended
  P{sk}:rt:qoe:<cdn>:<m>  hash, per-minute QoE sums of committed sessions (m = end minute)

Writing costs one script call per shard per batch (all of a batch's sessions of that shard), however many
events: a session's events of one batch are one append. Closing follows ``ClosingRule`` (the same rule
the replay uses): due sessions are found from the two indexes, leased, computed from their events,
committed to the sinks, and then *forgotten* by a script that checks the session did not grow meanwhile
(if it did, it stays open and is recomputed - nothing appended between the read and the commit is lost).
A committed session keeps its events for ``retention_ms``; an event for it within that time reopens it
(recomputed, upserted, and its real-time contribution replaced; it is committed again one reorder window
after the late event); after that, the append script reports it as *late* and the consumer dead-letters it.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import msgspec

from netflix_clone.analytics_consumer.domain.closing import ClosingRule, end_reason
from netflix_clone.analytics_consumer.domain.qoe import rebuffering_ratio
from netflix_clone.analytics_consumer.domain.session import SessionMetrics, compute_session
from netflix_clone.analytics_consumer.errors import InvalidConfig
from netflix_clone.contracts.player_events import Heartbeat, PlayerEvent, PlayRequest

__all__ = ["Batch", "RedisSessionStore", "SessionBatch", "StoredSession", "pack_events"]

_ENCODER = msgspec.msgpack.Encoder()
_DECODER: msgspec.msgpack.Decoder[list[PlayerEvent]] = msgspec.msgpack.Decoder(list[PlayerEvent])
_FIELD = "\x1f"  # script headers: the contract keeps control characters out of ids and labels
_PART = "\x1e"  # a real-time contribution's own fields

# One call per shard and batch. Sessions travel as one header (a line per session: sid, last rx, end
# rx or '', cid or '', bytes of events; fields split by \x1f, which the contract keeps out of ids) and one
# string of their events back to back: two arguments whatever the batch size - arguments cost the
# client more to encode than anything the script does. Per-session keys are built in the script from
# the shard's key prefix: they share the shard's hash tag, so they live in the same cluster slot.
# KEYS: open, ended, cid hash. ARGV: shard key prefix, max blob bytes, header, events.
# Returns one code per session: 0 stored, 1 overflow (blob full; not stored), 2 late (committed, its
# events expired; not stored).
_APPEND = r"""
local p, max, header, data = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local out, touched, pos = {}, {}, 1
local line = '([^\31\n]*)\31([^\31\n]*)\31([^\31\n]*)\31([^\31\n]*)\31([^\31\n]*)\n'
for sid, rx, erx, cid, size in string.gmatch(header, line) do
  size = tonumber(size)
  local chunk = string.sub(data, pos, pos + size - 1)
  pos = pos + size
  local blob, tomb = p .. 'e:' .. sid, p .. 'done:' .. sid
  local code, committed = 0, redis.call('EXISTS', tomb) == 1
  if committed and redis.call('EXISTS', blob) == 0 then
    code = 2
  elseif redis.call('STRLEN', blob) + size > max then
    code = 1
  else
    redis.call('APPEND', blob, chunk)
    if committed then
      -- Reopened by a late event: keep its events while open, and commit it again one reorder
      -- window after this event (it ended before, or went quiet long enough to be closed).
      redis.call('PERSIST', blob)
      if erx == '' then erx = rx end
    end
  end
  table.insert(out, code)
  if code ~= 2 then
    redis.call('ZADD', KEYS[1], 'GT', rx, sid)
    if erx ~= '' then redis.call('ZADD', KEYS[2], 'NX', erx, sid) end
    if cid ~= '' then
      redis.call('HSETNX', KEYS[3], sid, cid)
    else
      cid = redis.call('HGET', KEYS[3], sid)
    end
    if cid then
      local viewers = p .. 'rt:viewers:' .. cid
      if erx ~= '' or redis.call('ZSCORE', KEYS[2], sid) then
        redis.call('ZREM', viewers, sid)
      else
        redis.call('ZADD', viewers, 'GT', rx, sid)
        touched[viewers] = true
      end
    end
  end
end
for viewers in pairs(touched) do redis.call('PEXPIRE', viewers, 3600000) end
return out
"""

# KEYS: open, ended, cid hash. ARGV: shard key prefix, retention ms, tombstone ttl s, bucket ttl ms,
# header (a line per session: sid, bytes read, real-time contribution or '' - split by \x1f; the
# contribution's own fields by \x1e). Returns 1 per session forgotten, 0 if it grew meanwhile.
_FORGET = r"""
local p, retention, ttl, bttl, header = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local function signed(value, sign)
  -- Integers as text, never "-0" (which HINCRBY rejects).
  if sign < 0 and value ~= '0' then return '-' .. value end
  return value
end
local function apply(contribution, sign)
  if not contribution or contribution == '' then return end
  local f = {}
  for part in string.gmatch(contribution .. '\30', '([^\30]*)\30') do table.insert(f, part) end
  local bucket = p .. 'rt:qoe:' .. f[1] .. ':' .. f[2]
  redis.call('HINCRBY', bucket, 'sessions', sign)
  redis.call('HINCRBY', bucket, 'play_ms', signed(f[3], sign))
  redis.call('HINCRBY', bucket, 'stall_ms', signed(f[4], sign))
  redis.call('HINCRBY', bucket, 'failures', signed(f[5], sign))
  if f[6] ~= '' then
    redis.call('HINCRBY', bucket, 'scored', sign)
    redis.call('HINCRBYFLOAT', bucket, 'score_sum', signed(f[6], sign))
  end
  redis.call('PEXPIRE', bucket, bttl)
end
local out = {}
for sid, len, contribution in string.gmatch(header, '([^\31\n]*)\31([^\31\n]*)\31([^\31\n]*)\n') do
  len = tonumber(len)
  local blob, tomb, lease = p .. 'e:' .. sid, p .. 'done:' .. sid, p .. 'lock:' .. sid
  if redis.call('STRLEN', blob) == len then
    redis.call('ZREM', KEYS[1], sid)
    redis.call('ZREM', KEYS[2], sid)
    redis.call('HDEL', KEYS[3], sid)
    if len > 0 then redis.call('PEXPIRE', blob, retention) end
    apply(redis.call('GET', tomb), -1)
    apply(contribution, 1)
    redis.call('SET', tomb, contribution, 'EX', ttl)
    table.insert(out, 1)
  else
    table.insert(out, 0)
  end
  redis.call('DEL', lease)
end
return out
"""


def pack_events(events: Sequence[PlayerEvent]) -> bytes:
    """One append: a 4-byte length, then the events as a msgpack array."""
    body = _ENCODER.encode(events)
    return len(body).to_bytes(4, "big") + body


def unpack_events(blob: bytes) -> list[PlayerEvent]:
    events: list[PlayerEvent] = []
    offset = 0
    while offset + 4 <= len(blob):
        size = int.from_bytes(blob[offset : offset + 4], "big")
        events.extend(_DECODER.decode(blob[offset + 4 : offset + 4 + size]))
        offset += 4 + size
    return events


@dataclass
class SessionBatch:
    """One session's events of one stream batch, with what the indexes need."""

    sid: str
    events: list[PlayerEvent] = field(default_factory=list)
    tokens: list[Any] = field(default_factory=list)  # stream entry ids, for dead letters
    last_rx: int = 0
    end_rx: Optional[int] = None
    cid: str = ""

    def add(self, event: PlayerEvent, received_ms: int, token: Any = None) -> None:
        self.events.append(event)
        self.tokens.append(token)
        if received_ms > self.last_rx:  # pylint: disable=consider-using-max-builtin  # hot path
            self.last_rx = received_ms
        kind = type(event)
        if kind is Heartbeat:  # most events: nothing more to note
            return
        if kind is PlayRequest:
            self.cid = event.cid  # type: ignore[union-attr]
        elif self.end_rx is None and end_reason(event) is not None:
            self.end_rx = received_ms


@dataclass
class Batch:
    """What ``RedisSessionStore.append`` could not store, per session id."""

    overflow: list[SessionBatch] = field(default_factory=list)
    late: list[SessionBatch] = field(default_factory=list)


@dataclass(frozen=True)
class StoredSession:
    sid: str
    metrics: SessionMetrics
    length: int  # bytes of events read: the commit is conditional on it
    reopened: bool  # committed before, recomputed now


def _end_reason(events: Iterable[PlayerEvent]) -> Optional[str]:
    """The reason of the session's first ending event (in stored order), by the closing rule."""
    for event in events:
        ended = end_reason(event)
        if ended is not None:
            return ended
    return None


def contribution(m: SessionMetrics) -> str:
    """A committed row's share of the per-minute real-time QoE (orphans have none)."""
    if m.orphan or not m.cdn:
        return ""
    score = "" if m.qoe_score is None else repr(float(m.qoe_score))
    failed = int(m.start_failure or m.playback_failure)
    return _PART.join([m.cdn, str(m.ended_at_ms // 60_000), str(m.play_ms), str(m.stall_ms), str(failed), score])


class RedisSessionStore:
    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "analytics:",
        rule: Optional[ClosingRule] = None,
        shards: int = 16,
        tombstone_ttl_s: int = 86_400,
        lease_ms: int = 60_000,
        owner: str = "consumer",
        max_session_bytes: int = 4 * 1024 * 1024,
        bucket_ttl_ms: int = 7_200_000,
    ) -> None:
        if "{" in prefix or "}" in prefix:
            raise InvalidConfig(f"the key prefix {prefix!r} must not contain braces (they are hash tags)")
        if shards < 1:
            raise InvalidConfig("shards must be at least 1")
        self.client = client
        self.prefix = prefix
        self.rule = rule or ClosingRule()
        self.shards = shards
        self.tombstone_ttl_s = tombstone_ttl_s
        self.lease_ms = lease_ms
        self.owner = owner
        self.max_session_bytes = max_session_bytes
        self.bucket_ttl_ms = bucket_ttl_ms
        self._append = client.register_script(_APPEND)
        self._forget = client.register_script(_FORGET)
        self.duplicates = 0

    # Keys -----------------------------------------------------------------------------------------
    def shard(self, sid: str) -> int:
        return zlib.crc32(sid.encode()) % self.shards

    def shard_key(self, shard: int, *parts: str) -> str:
        """A key of ``shard``: every one carries the shard's hash tag (one cluster slot)."""
        return f"{self.prefix}{{s{shard}}}:" + ":".join(parts)

    _k = shard_key

    # Writing -------------------------------------------------------------------------------------
    def append(self, sessions: Iterable[SessionBatch]) -> Batch:
        """Store a stream batch, grouped by session: one script call per shard."""
        by_shard: dict[int, list[SessionBatch]] = {}
        for s in sessions:
            by_shard.setdefault(self.shard(s.sid), []).append(s)
        outcome = Batch()
        for shard, group in by_shard.items():
            keys = [self._k(shard, "open"), self._k(shard, "ended"), self._k(shard, "cid")]
            lines, chunks = [], []
            for s in group:
                chunk = pack_events(s.events)
                chunks.append(chunk)
                end = "" if s.end_rx is None else str(s.end_rx)
                lines.append(f"{s.sid}\x1f{s.last_rx}\x1f{end}\x1f{s.cid}\x1f{len(chunk)}\n")
            args = [self._k(shard, ""), self.max_session_bytes, "".join(lines), b"".join(chunks)]
            codes = self._append(keys=keys, args=args)
            for s, code in zip(group, codes):
                if int(code) == 1:
                    outcome.overflow.append(s)
                elif int(code) == 2:
                    outcome.late.append(s)
        return outcome

    # Closing -------------------------------------------------------------------------------------
    def due(self, watermark: int, limit: int = 500, reason: Optional[str] = None) -> list[StoredSession]:
        """Compute the sessions due at ``watermark`` whose close lease this consumer won.

        With ``reason`` (backpressure, end_of_input) the ``limit`` sessions nearest their due time close
        whatever the watermark says.
        """
        pipe = self.client.pipeline(transaction=False)
        if reason is None:
            idle_before, ended_before = self.rule.due_cutoffs(watermark)
        else:
            idle_before = ended_before = 2**62
        for shard in range(self.shards):
            pipe.zrangebyscore(self._k(shard, "open"), "-inf", idle_before, start=0, num=limit)
            pipe.zrangebyscore(self._k(shard, "ended"), "-inf", ended_before, start=0, num=limit)
        found = pipe.execute()
        candidates: list[tuple[int, str]] = []
        seen: set[str] = set()
        for shard in range(self.shards):
            for raw in found[2 * shard] + found[2 * shard + 1]:
                sid = raw.decode() if isinstance(raw, bytes) else raw
                if sid not in seen:
                    seen.add(sid)
                    candidates.append((shard, sid))
        candidates = candidates[:limit]
        if not candidates:
            return []
        leases = self.client.pipeline(transaction=False)
        for shard, sid in candidates:
            leases.set(self._k(shard, "lock", sid), self.owner, nx=True, px=self.lease_ms)
        won = [c for c, got in zip(candidates, leases.execute()) if got]
        reads = self.client.pipeline(transaction=False)
        for shard, sid in won:
            reads.get(self._k(shard, "e", sid))
            reads.exists(self._k(shard, "done", sid))
        replies = reads.execute()
        ready: list[StoredSession] = []
        empty: list[tuple[int, str]] = []
        for index, (shard, sid) in enumerate(won):
            blob, reopened = replies[2 * index] or b"", bool(replies[2 * index + 1])
            events = unpack_events(blob)
            if not events:
                empty.append((shard, sid))
                continue
            distinct = {e.seq for e in events}
            self.duplicates += len(events) - len(distinct)
            # A session that ended keeps its own reason; otherwise the caller's, else inactivity.
            close_reason = self.rule.close_reason(_end_reason(events), reason)
            metrics = compute_session(events, close_reason)
            ready.append(StoredSession(sid, metrics, len(blob), reopened))
        if empty:  # index entries without events (the events expired): drop them
            self._forget_raw([(shard, sid, 0, "") for shard, sid in empty])
        return ready

    def forget(self, sessions: Sequence[StoredSession]) -> list[bool]:
        """After the sinks committed: close each session unless it grew since it was read."""
        return self._forget_raw([(self.shard(s.sid), s.sid, s.length, contribution(s.metrics)) for s in sessions])

    def _forget_raw(self, rows: Sequence[tuple[int, str, int, str]]) -> list[bool]:
        by_shard: dict[int, list[tuple[int, str, int, str]]] = {}
        for row in rows:
            by_shard.setdefault(row[0], []).append(row)
        done: dict[str, bool] = {}
        for shard, group in by_shard.items():
            keys = [self._k(shard, "open"), self._k(shard, "ended"), self._k(shard, "cid")]
            header = "".join(f"{sid}\x1f{length}\x1f{share}\n" for _, sid, length, share in group)
            args = [
                self._k(shard, ""),
                self.rule.retention_ms,
                self.tombstone_ttl_s,
                self.bucket_ttl_ms,
                header,
            ]
            for (_, sid, _, _), ok in zip(group, self._forget(keys=keys, args=args)):
                done[sid] = bool(int(ok))
        return [done[row[1]] for row in rows]

    def release(self, sids: Sequence[str]) -> None:
        """Give up leases without closing (the sinks failed): another attempt recomputes them."""
        if sids:
            pipe = self.client.pipeline(transaction=False)
            for sid in sids:
                pipe.delete(self._k(self.shard(sid), "lock", sid))
            pipe.execute()

    def discard(self, sid: str) -> None:
        """Drop an open session without committing it (its events were dead-lettered)."""
        shard = self.shard(sid)
        pipe = self.client.pipeline(transaction=False)
        pipe.zrem(self._k(shard, "open"), sid)
        pipe.zrem(self._k(shard, "ended"), sid)
        pipe.hdel(self._k(shard, "cid"), sid)
        pipe.delete(self._k(shard, "e", sid), self._k(shard, "lock", sid))
        pipe.execute()

    def events_of(self, sid: str) -> list[PlayerEvent]:
        blob = self.client.get(self._k(self.shard(sid), "e", sid)) or b""
        return unpack_events(blob)

    # Reading -------------------------------------------------------------------------------------
    def open_count(self) -> int:
        pipe = self.client.pipeline(transaction=False)
        for shard in range(self.shards):
            pipe.zcard(self._k(shard, "open"))
        return int(sum(pipe.execute()))

    def memory_bytes(self) -> int:
        """Bytes Redis holds for the open sessions' events (MEMORY USAGE of every blob; slow)."""
        total = 0
        for shard in range(self.shards):
            for raw in self.client.zrange(self._k(shard, "open"), 0, -1):
                sid = raw.decode() if isinstance(raw, bytes) else raw
                total += int(self.client.memory_usage(self._k(shard, "e", sid)) or 0)
        return total

    def concurrent_viewers(self, title: str, now_ms: int, window_ms: int = 60_000) -> int:
        """Sessions of ``title`` that sent an event within ``window_ms`` of ``now_ms`` and have not ended."""
        pipe = self.client.pipeline(transaction=False)
        for shard in range(self.shards):
            pipe.zcount(self._k(shard, "rt", "viewers", title), now_ms - window_ms, "+inf")
        return int(sum(pipe.execute()))

    def rolling_qoe(self, cdn: str, now_ms: int, minutes: int = 5) -> dict[str, float]:
        """QoE of the sessions (their latest commit) that ended on ``cdn`` in the last ``minutes``."""
        last = now_ms // 60_000
        pipe = self.client.pipeline(transaction=False)
        for minute in range(last - minutes + 1, last + 1):
            for shard in range(self.shards):
                pipe.hgetall(self._k(shard, "rt", "qoe", cdn, str(minute)))
        totals: dict[str, float] = {}
        for bucket in pipe.execute():
            for name, value in bucket.items():
                key = name.decode() if isinstance(name, bytes) else name
                totals[key] = totals.get(key, 0.0) + float(value)
        sessions = totals.get("sessions", 0.0)
        stall, play = totals.get("stall_ms", 0.0), totals.get("play_ms", 0.0)
        return {
            "sessions": sessions,
            "play_ms": play,
            "stall_ms": stall,
            "avg_qoe_score": totals["score_sum"] / totals["scored"] if totals.get("scored") else float("nan"),
            "rebuffering_ratio": rebuffering_ratio(stall, play),
            "failure_rate": totals.get("failures", 0.0) / sessions if sessions else 0.0,
        }
