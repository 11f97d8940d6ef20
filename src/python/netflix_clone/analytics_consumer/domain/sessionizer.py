"""Groups events into sessions and decides when a session is complete, on event time.

A session closes `reorder_window_ms` after its end or fatal error was seen (so late events within the
window still count), or after `inactivity_timeout_ms` without events. Time is the watermark: the largest
client timestamp seen so far, which makes a replay deterministic. Events for sessions already closed are
counted as late and dropped (their session was written; re-opening it would double count).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Optional

from netflix_clone.contracts.player_events import End, Error, PlayerEvent
from netflix_clone.analytics_consumer.domain.session import SessionMetrics, compute_session

__all__ = ["ClosedSession", "OpenSession", "Sessionizer"]


@dataclass
class OpenSession:
    events: dict[int, PlayerEvent] = field(default_factory=dict)
    last_ts: int = 0
    closing_at: Optional[int] = None
    close_reason: Optional[str] = None
    tokens: list[Hashable] = field(
        default_factory=list
    )  # e.g. stream message ids to ack after commit


@dataclass(frozen=True)
class ClosedSession:
    metrics: SessionMetrics
    tokens: list[Hashable]


class Sessionizer:
    def __init__(
        self,
        *,
        inactivity_timeout_ms: int = 120_000,
        reorder_window_ms: int = 5_000,
        max_events_per_session: int = 20_000,
        remember_closed: int = 200_000,
    ) -> None:
        self.inactivity_timeout_ms = inactivity_timeout_ms
        self.reorder_window_ms = reorder_window_ms
        self.max_events_per_session = max_events_per_session
        self.remember_closed = remember_closed
        self.sessions: dict[str, OpenSession] = {}
        self.watermark = 0
        self.duplicates = 0
        self.late = 0
        self.overflow = 0
        self._closed: OrderedDict[str, None] = OrderedDict()

    def add(self, event: PlayerEvent, token: Optional[Hashable] = None) -> bool:
        """Add one event; False when it was dropped as late (its token may be acked at once)."""
        self.watermark = max(self.watermark, event.ts)
        if event.sid in self._closed:
            self.late += 1
            return False
        session = self.sessions.get(event.sid)
        if session is None:
            session = self.sessions[event.sid] = OpenSession(last_ts=event.ts)
        if token is not None:
            session.tokens.append(token)
        if event.seq in session.events:
            self.duplicates += 1
            return True
        if len(session.events) >= self.max_events_per_session:
            self.overflow += 1  # bounded memory: a runaway player cannot grow a session forever
            return True
        session.events[event.seq] = event
        session.last_ts = max(session.last_ts, event.ts)
        if session.closing_at is None:
            if isinstance(event, End):
                session.closing_at, session.close_reason = event.ts, "end"
            elif isinstance(event, Error) and event.fatal:
                session.closing_at, session.close_reason = event.ts, "fatal_error"
        return True

    def advance(self, watermark: Optional[int] = None) -> list[ClosedSession]:
        """Close every session that is complete at `watermark` (default: the largest timestamp seen)."""
        now = self.watermark if watermark is None else watermark
        done: list[ClosedSession] = []
        for sid in list(self.sessions):
            session = self.sessions[sid]
            if (
                session.closing_at is not None
                and now >= session.closing_at + self.reorder_window_ms
            ):
                done.append(self._close(sid, session.close_reason or "end"))
            elif now - session.last_ts >= self.inactivity_timeout_ms:
                done.append(self._close(sid, "inactivity"))
        return done

    def close_all(self, reason: str = "shutdown") -> list[ClosedSession]:
        """Close everything (end of a replay). Sessions that had ended keep their own reason."""
        return [
            self._close(sid, self.sessions[sid].close_reason or reason)
            for sid in list(self.sessions)
        ]

    def _close(self, sid: str, reason: str) -> ClosedSession:
        session = self.sessions.pop(sid)
        self._closed[sid] = None
        while len(self._closed) > self.remember_closed:
            self._closed.popitem(last=False)
        return ClosedSession(compute_session(session.events.values(), reason), session.tokens)
