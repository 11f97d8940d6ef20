"""The stream use case: Redis stream batches (decode, dead-letter or store, ack, close due sessions) by
any number of consumers sharing a group and the Redis session store. The file replay is ``replay.py``;
both close sessions by the same :class:`ClosingRule` and dead-letter through ``domain/dead_letters.py``.

Every input ends as a stored event or a dead letter with a stable reason - nothing else escapes:

* a payload the contract rejects: its reason (malformed_json, invalid_event, too_nested, ...);
* an event stamped too far ahead of its receive time: ``clock_skew``;
* an event for a session committed longer ago than the retention: ``late``;
* a session past ``max_session_bytes``: its further events are ``session_too_large``;
* an entry whose processing keeps failing: after ``poison_after`` deliveries (the stream's own
  counter) the batch is retried one entry at a time and the entry that fails is dead-lettered as
  ``processing_failed`` with the exception - the rest of the batch is stored, and the group moves on;
* a session a sink keeps rejecting (``poison_after`` attempts): dead-lettered whole as
  ``sink_rejected``, its events in the letter. A sink that rejects *everything* is an outage, not
  poison: the batch is released and retried, nothing is dead-lettered.

Errors of Redis itself (connection, timeout, cluster reconfiguring) are never poison: the batch stays
pending and is retried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from prometheus_client import CollectorRegistry, Counter, Gauge

from netflix_clone.analytics_consumer.adapters.redis_streams import entry_ms
from netflix_clone.analytics_consumer.adapters.session_store import RedisSessionStore, SessionBatch, StoredSession
from netflix_clone.analytics_consumer.adapters.sinks import SessionSink
from netflix_clone.analytics_consumer.domain.closing import ClosingRule
from netflix_clone.analytics_consumer.domain.dead_letters import DeadLetter, late_letter, overflow_letter, skew_letter
from netflix_clone.contracts.player_events import EventError, decode_event, encode_event
from netflix_clone.platform.metrics import new_registry

__all__ = ["ConsumerMetrics", "DeadLetter", "StreamConsumer", "consumer_for_prefix"]

_log = logging.getLogger(__name__)


def _transient(exc: BaseException) -> bool:
    """Errors of the backend itself: retried, never dead-lettered."""
    try:
        import redis.exceptions as rexc  # pylint: disable=import-outside-toplevel
    except ImportError:  # pragma: no cover
        return False
    transient = (rexc.ConnectionError, rexc.TimeoutError, rexc.BusyLoadingError)
    cluster = tuple(getattr(rexc, name) for name in ("ClusterDownError", "TryAgainError") if hasattr(rexc, name))
    return isinstance(exc, transient + cluster)


@dataclass
class ConsumerMetrics:
    registry: CollectorRegistry = field(default_factory=new_registry)

    def __post_init__(self) -> None:
        r = self.registry
        self.events = Counter("analytics_events", "stream entries read", registry=r)
        self.stored = Counter("analytics_events_stored", "events stored in the session store", registry=r)
        self.dead = Counter(
            "analytics_dead_letters",
            "entries sent to the dead-letter stream",
            ["reason"],
            registry=r,
        )
        self.sessions = Counter(
            "analytics_sessions",
            "distinct sessions committed (first commit)",
            ["close_reason"],
            registry=r,
        )
        self.commits = Counter(
            "analytics_session_commits",
            "session rows written (a reopened session again)",
            registry=r,
        )
        self.reopened = Counter("analytics_sessions_reopened", "sessions recomputed after a late event", registry=r)
        self.duplicates = Counter("analytics_duplicate_events", "duplicate events ignored", registry=r)
        self.open_sessions = Gauge("analytics_open_sessions", "sessions open in the store", registry=r)
        self.lag = Gauge("analytics_stream_lag_entries", "entries undelivered or pending", registry=r)
        self.watermark = Gauge(
            "analytics_watermark_seconds",
            "receive time up to which every event is stored",
            registry=r,
        )

    def total(self, counter: Counter) -> int:
        return int(sum(s.value for m in counter.collect() for s in m.samples if s.name.endswith("_total")))


class StreamConsumer:
    """Redis Streams -> shared session store -> sinks. Any number may share one consumer group."""

    def __init__(
        self,
        source: Any,
        store: RedisSessionStore,
        sinks: Sequence[SessionSink],
        *,
        metrics: Optional[ConsumerMetrics] = None,
        max_open_sessions: int = 1_000_000,
        poison_after: int = 3,
        close_limit: int = 500,
    ) -> None:
        self.source = source
        self.store = store
        self.rule = store.rule
        self.sinks = sinks
        self.metrics = metrics or ConsumerMetrics()
        self.max_open_sessions = max_open_sessions
        self.poison_after = poison_after
        self.close_limit = close_limit
        self.stop_event = threading.Event()
        self._sink_failures: dict[str, int] = {}
        self._steps = 0
        self._sinks_ok_at: Optional[float] = None  # monotonic time of the sinks' last success
        self.outage_after_s = 30.0

    # One batch ---------------------------------------------------------------------------------
    def step(self) -> int:
        """Read a batch, dead-letter or store every entry, ack it, then commit due sessions."""
        entries = self.source.read()
        if entries:
            self.metrics.events.inc(len(entries))
            try:
                acked = self.ingest(entries)
            except Exception as exc:  # pylint: disable=broad-except  # poison or backend: see below
                if _transient(exc):
                    raise
                _log.warning(
                    "batch of %d failed (%s: %s); retrying entry by entry",
                    len(entries), type(exc).__name__, exc,
                )  # fmt: skip
                acked = self._ingest_one_by_one(entries, exc)
            self.source.ack(acked)
        watermark = self.source.watermark()
        self.metrics.watermark.set(watermark / 1000.0)
        self.close_due(watermark)
        self._steps += 1
        if self._steps % 20 == 1:
            open_sessions = self.store.open_count()
            self.metrics.open_sessions.set(open_sessions)
            if open_sessions > self.max_open_sessions:
                # Backpressure instead of unbounded memory: the sessions nearest due close early.
                self.close_due(watermark, limit=open_sessions - self.max_open_sessions, reason="backpressure")
        return len(entries)

    def ingest(self, entries: Sequence[tuple[Any, bytes]]) -> list[Any]:
        """Dead-letter or store one batch of entries; returns the ids to ack (all of them)."""
        dead: list[DeadLetter] = []
        sessions: dict[str, SessionBatch] = {}
        payloads: dict[Any, bytes] = {}
        for token, payload in entries:
            try:
                event = decode_event(payload)
            except EventError as error:
                dead.append(DeadLetter(token, payload, error.reason, error.detail))
                continue
            rx = entry_ms(token)
            if self.rule.skewed(event.ts, rx):
                dead.append(skew_letter(token, payload, event, rx, self.rule))
                continue
            batch = sessions.get(event.sid)
            if batch is None:
                batch = sessions[event.sid] = SessionBatch(event.sid)
            batch.add(event, rx, token)
            payloads[token] = payload
        stored = 0
        if sessions:
            outcome = self.store.append(sessions.values())
            rejected = {id(s) for s in outcome.overflow} | {id(s) for s in outcome.late}
            stored = sum(len(s.events) for s in sessions.values() if id(s) not in rejected)
            for s in outcome.overflow:
                dead += [overflow_letter(t, payloads[t], s.sid) for t in s.tokens]
            for s in outcome.late:
                dead += [late_letter(t, payloads[t], s.sid, self.rule) for t in s.tokens]
        self._dead_letter(dead)
        self.metrics.stored.inc(stored)
        return [token for token, _ in entries]

    def _ingest_one_by_one(self, entries: Sequence[tuple[Any, bytes]], first: Exception) -> list[Any]:
        """The poison rule: entries delivered ``poison_after`` times that still fail are dead-lettered;
        the others are stored one by one, or left pending for another try."""
        counts = self.source.delivery_counts([token for token, _ in entries])
        acked: list[Any] = []
        for token, payload in entries:
            try:
                acked += self.ingest([(token, payload)])
            except Exception as exc:  # pylint: disable=broad-except
                if _transient(exc):
                    raise
                key = token if isinstance(token, bytes) else str(token).encode()
                if counts.get(key, 1) >= self.poison_after:
                    self._dead_letter([DeadLetter(token, payload, "processing_failed", f"{type(exc).__name__}: {exc}")])
                    acked.append(token)
        _log.info(
            "entry-by-entry retry after %s: %d of %d entries done",
            type(first).__name__, len(acked), len(entries),
        )  # fmt: skip
        return acked

    def _dead_letter(self, letters: Sequence[DeadLetter]) -> None:
        if not letters:
            return
        self.source.dead_letter_many([(d.token, d.payload, d.reason, d.detail) for d in letters])
        for letter in letters:
            self.metrics.dead.labels(letter.reason).inc()

    # Closing -----------------------------------------------------------------------------------
    def close_due(self, watermark: int, *, limit: Optional[int] = None, reason: Optional[str] = None) -> int:
        limit = limit or self.close_limit
        closed = 0
        while True:
            due = self.store.due(watermark, limit=limit, reason=reason)
            if not due:
                return closed
            committed = self._commit(due)
            closed += committed
            if reason is not None or len(due) < limit or not committed:
                return closed

    def _commit(self, due: Sequence[StoredSession]) -> int:
        written = self._write_isolating_poison(due)
        if not written:
            return 0
        forgotten = self.store.forget(written)
        for session, gone in zip(written, forgotten):
            if not gone:
                continue  # it grew meanwhile: it will close again with every event
            self.metrics.commits.inc()
            if session.reopened:
                self.metrics.reopened.inc()
            else:
                self.metrics.sessions.labels(session.metrics.close_reason).inc()
            self._sink_failures.pop(session.sid, None)
        self.metrics.duplicates.inc(self.store.duplicates)
        self.store.duplicates = 0
        return sum(forgotten)

    def _write_isolating_poison(self, due: Sequence[StoredSession]) -> list[StoredSession]:
        try:
            for sink in self.sinks:
                sink.write([d.metrics for d in due])
            self._sinks_ok_at = time.monotonic()
            return list(due)
        except Exception as exc:  # pylint: disable=broad-except  # isolate below
            first = exc
        written: list[StoredSession] = []
        failed: list[tuple[StoredSession, Exception]] = []
        for session in due:
            try:
                for sink in self.sinks:
                    sink.write([session.metrics])
                written.append(session)
            except Exception as exc:  # pylint: disable=broad-except
                failed.append((session, exc))
        if written:
            self._sinks_ok_at = time.monotonic()
        recently_ok = self._sinks_ok_at is not None and time.monotonic() - self._sinks_ok_at < self.outage_after_s
        if not written and (len(failed) > 1 or not recently_ok):
            # Every session failed, and the sinks took nothing lately: they are down, not fed
            # poison. Retry later, dead-letter nothing.
            self.store.release([s.sid for s, _ in failed])
            raise first
        release = []
        for session, error in failed:
            count = self._sink_failures.get(session.sid, 0) + 1
            self._sink_failures[session.sid] = count
            if count < self.poison_after:
                release.append(session.sid)
                continue
            self._dead_letter_session(session, error)
        self.store.release(release)
        return written

    def _dead_letter_session(self, session: StoredSession, exc: Exception) -> None:
        events = self.store.events_of(session.sid)
        body = b"\n".join(encode_event(e) for e in events)
        self._dead_letter([
            DeadLetter(
                session.sid, body, "sink_rejected",
                f"{type(exc).__name__}: {exc}; {len(events)} events of session {session.sid}",
            )
        ])  # fmt: skip
        self.store.discard(session.sid)
        self._sink_failures.pop(session.sid, None)

    def drain(self, reason: str = "end_of_input") -> int:
        """The input is over: commit every open session now (ended ones keep their own reason)."""
        closed = 0
        while True:
            done = self.close_due(2**62, reason=reason)
            closed += done
            if not done:
                return closed

    def run(self, *, until_idle: bool = False) -> None:
        """Loop until stopped (SIGTERM/SIGINT set stop_event). With ``until_idle`` the stream is a
        finished batch: once a read returns nothing, every open session is committed and the loop ends.
        """
        self.source.ensure_group()
        while not self.stop_event.is_set():
            read = self.step()
            self.metrics.lag.set(self.source.lag())
            if until_idle and read == 0:
                self.drain()
                break
        _log.info("consumer stopped after finishing its batch; open sessions stay in the store")


def consumer_for_prefix(
    client: Any,
    prefix: str,
    name: str,
    sinks: Sequence[SessionSink],
    *,
    batch: int = 1000,
    block_ms: int = 50,
    claim_idle_ms: int = 60_000,
    lease_ms: int = 60_000,
    rule: Optional[ClosingRule] = None,
    shards: int = 16,
) -> StreamConsumer:
    """A consumer whose stream (`PREFIX events`), dead letters (`PREFIX dead`) and session store
    (`PREFIX store:`) share one key prefix: the layout the tests, the benchmark and the crash check use.
    """
    from netflix_clone.analytics_consumer.adapters.redis_streams import RedisStreamSource

    source = RedisStreamSource(
        client,
        stream=prefix + "events",
        group="analytics",
        consumer=name,
        dead_letter_stream=prefix + "dead",
        batch=batch,
        block_ms=block_ms,
        claim_idle_ms=claim_idle_ms,
    )
    source.ensure_group()
    store = RedisSessionStore(client, prefix=prefix + "store:", owner=name, lease_ms=lease_ms, rule=rule, shards=shards)
    return StreamConsumer(source, store, sinks)
