"""The consumer loop: decode -> dead-letter or store -> ack -> commit due sessions to every sink -> forget.

An entry is acked only once it is dead-lettered or stored in the shared session store; a session leaves
the store only after every sink committed it; sinks upsert by session id. A crash at any point therefore
loses nothing and counts nothing twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from prometheus_client import CollectorRegistry, Counter, Gauge

from netflix_clone.analytics_consumer.adapters.session_store import RedisSessionStore
from netflix_clone.analytics_consumer.adapters.sinks import SessionSink
from netflix_clone.analytics_consumer.domain.sessionizer import Sessionizer
from netflix_clone.contracts.player_events import EventError, decode_event

__all__ = ["ConsumerMetrics", "StreamConsumer", "consumer_for_prefix", "process_payloads"]

_log = logging.getLogger(__name__)


@dataclass
class ConsumerMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.events = Counter("analytics_events_total", "events read", registry=self.registry)
        self.dead = Counter(
            "analytics_dead_letters_total",
            "events sent to the dead-letter stream",
            ["reason"],
            registry=self.registry,
        )
        self.sessions = Counter(
            "analytics_sessions_total",
            "sessions committed",
            ["close_reason"],
            registry=self.registry,
        )
        self.open_sessions = Gauge(
            "analytics_open_sessions", "sessions in memory", registry=self.registry
        )
        self.lag = Gauge(
            "analytics_stream_lag", "entries undelivered or pending", registry=self.registry
        )
        self.duplicates = Gauge(
            "analytics_duplicate_events", "duplicate events ignored", registry=self.registry
        )


def process_payloads(
    sessionizer: Sessionizer,
    payloads: Sequence[tuple[Hashable, bytes]],
    metrics: Optional[ConsumerMetrics] = None,
) -> tuple[list[tuple[Hashable, bytes, EventError]], list[Hashable]]:
    """Feed payloads to the sessionizer; returns (rejected, immediately-ackable tokens)."""
    rejected: list[tuple[Hashable, bytes, EventError]] = []
    ackable: list[Hashable] = []
    for token, payload in payloads:
        try:
            event = decode_event(payload)
        except EventError as exc:
            rejected.append((token, payload, exc))
            continue
        if not sessionizer.add(event, token):
            ackable.append(token)  # late event of a committed session
    if metrics is not None:
        metrics.events.inc(len(payloads))
    return rejected, ackable


class StreamConsumer:
    """Redis Streams -> shared session store -> sinks. Any number of these may share one consumer group."""

    def __init__(
        self,
        source: Any,
        store: RedisSessionStore,
        sinks: Sequence[SessionSink],
        *,
        metrics: Optional[ConsumerMetrics] = None,
        max_open_sessions: int = 1_000_000,
        wall_clock_skew_ms: Optional[int] = 300_000,
    ) -> None:
        self.source = source
        self.store = store
        self.sinks = sinks
        self.metrics = metrics or ConsumerMetrics()
        self.max_open_sessions = max_open_sessions
        self.wall_clock_skew_ms = wall_clock_skew_ms
        self.stop_event = threading.Event()

    def step(self) -> int:
        """One batch: read, dead-letter or store, ack, then close and commit due sessions."""
        entries = self.source.read()
        stored: list[tuple[Any, bytes]] = []
        for msg_id, payload in entries:
            try:
                stored.append((decode_event(payload), payload))
            except EventError as error:
                self.source.dead_letter(msg_id, payload, error.reason, error.detail)
                self.metrics.dead.labels(error.reason).inc()
        if stored:
            self.store.add(stored)
        if entries:
            self.source.ack([msg_id for msg_id, _ in entries])
            self.metrics.events.inc(len(entries))
        if stored:
            watermark = self.store.raise_watermark(max(event.ts for event, _ in stored))
        else:
            watermark = self.store.watermark() or 0
            if self.wall_clock_skew_ms is not None:
                # An idle stream must still time sessions out: wall time minus the allowed client skew.
                watermark = max(watermark, int(time.time() * 1000) - self.wall_clock_skew_ms)
        self.close_due(watermark)
        open_sessions = self.store.open_count()
        if open_sessions > self.max_open_sessions:
            # Backpressure instead of unbounded memory: close the sessions nearest their due time early.
            self.close_due(
                2**62, limit=open_sessions - self.max_open_sessions, reason="backpressure"
            )
        self.metrics.open_sessions.set(open_sessions)
        self.metrics.duplicates.set(self.store.duplicates)
        return len(entries)

    def close_due(self, watermark: int, *, limit: int = 500, reason: Optional[str] = None) -> int:
        closed = 0
        while True:
            due = self.store.due(watermark, limit=limit, reason=reason)
            if not due:
                return closed
            sids = [d.sid for d in due]
            try:
                for sink in self.sinks:
                    sink.write([d.metrics for d in due])
            except Exception:
                self.store.release(sids)
                raise
            self.store.record_qoe([d.metrics for d in due])
            self.store.forget(sids, [d.metrics.title_id for d in due])
            for d in due:
                self.metrics.sessions.labels(d.metrics.close_reason).inc()
            closed += len(due)
            if reason is not None or len(due) < limit:
                return closed

    def run(self, *, until_idle: bool = False) -> None:
        """Loop until stopped (SIGTERM/SIGINT set stop_event), or until a read returns nothing."""
        self.source.ensure_group()
        while not self.stop_event.is_set():
            read = self.step()
            self.metrics.lag.set(self.source.lag())
            if until_idle and read == 0:
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
    inactivity_timeout_ms: int = 120_000,
    wall_clock_skew_ms: Optional[int] = None,
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
    store = RedisSessionStore(
        client,
        prefix=prefix + "store:",
        owner=name,
        lease_ms=lease_ms,
        inactivity_timeout_ms=inactivity_timeout_ms,
    )
    return StreamConsumer(source, store, sinks, wall_clock_skew_ms=wall_clock_skew_ms)
