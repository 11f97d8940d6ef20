"""Groups events into sessions in memory and closes them by :class:`ClosingRule` (the file replay).

The stream path keeps sessions in Redis instead (``adapters/session_store.py``) and applies the same
rule from the same module; this class is the in-process version of it. Receive time comes with each
event (``add(event, received_ms)``); a replay estimates it with :class:`ReceiveClock`.

Committed sessions keep their events for ``rule.retention_ms`` of receive time, so an event that
arrives after its session closed reopens and recomputes it (sinks upsert by session id); after that it
is *late* and handed back to the caller for the dead-letter file. Memory is bounded: at most
``max_events_per_session`` per session (the rest are *overflow*) and ``max_retained`` committed
sessions (the oldest are forgotten early; their late events are then late).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Optional

from netflix_clone.analytics_consumer.domain.closing import ClosingRule, end_reason
from netflix_clone.analytics_consumer.domain.session import SessionMetrics, compute_session
from netflix_clone.contracts.player_events import PlayerEvent

__all__ = ["Added", "OpenSession", "Sessionizer"]


class Added:
    """What became of an added event."""

    STORED = "stored"
    DUPLICATE = "duplicate"
    REOPENED = "reopened"  # stored, and its committed session reopened for recomputation
    LATE = "late"  # its session was committed longer than the retention ago: not merged
    OVERFLOW = "overflow"  # the session already holds max_events_per_session events


@dataclass
class OpenSession:
    events: dict[int, PlayerEvent] = field(default_factory=dict)
    last_rx: int = 0
    end_rx: Optional[int] = None
    end_reason: Optional[str] = None


@dataclass
class _Retained:
    session: OpenSession
    committed_rx: int


class Sessionizer:
    def __init__(
        self,
        rule: Optional[ClosingRule] = None,
        *,
        max_events_per_session: int = 20_000,
        max_retained: int = 200_000,
    ) -> None:
        self.rule = rule or ClosingRule()
        self.max_events_per_session = max_events_per_session
        self.max_retained = max_retained
        self.sessions: dict[str, OpenSession] = {}
        self._retained: OrderedDict[str, _Retained] = OrderedDict()  # in commit order
        self._tombstones: OrderedDict[str, None] = OrderedDict()  # committed, events gone
        self.watermark = 0
        self.duplicates = 0
        self.late = 0
        self.overflow = 0
        self.reopened = 0

    def add(self, event: PlayerEvent, received_ms: int) -> str:
        self.watermark = max(self.watermark, received_ms)
        session = self.sessions.get(event.sid)
        if session is None:
            retained = self._retained.get(event.sid)
            if event.sid in self._tombstones or (
                retained is not None and not self.rule.reopens(retained.committed_rx, received_ms)
            ):
                self.late += 1
                return Added.LATE
            if retained is not None:
                del self._retained[event.sid]
                session = self.sessions[event.sid] = retained.session
                self.reopened += 1
                outcome = Added.REOPENED
            else:
                session = self.sessions[event.sid] = OpenSession(last_rx=received_ms)
                outcome = Added.STORED
        else:
            outcome = Added.STORED
        if event.seq in session.events:
            self.duplicates += 1
            return Added.DUPLICATE
        if len(session.events) >= self.max_events_per_session:
            self.overflow += 1  # bounded memory: a runaway player cannot grow a session forever
            return Added.OVERFLOW
        session.events[event.seq] = event
        session.last_rx = max(session.last_rx, received_ms)
        if session.end_rx is None:
            ended = end_reason(event)
            if ended is not None:
                session.end_rx, session.end_reason = received_ms, ended
        return outcome

    def advance(self, watermark: Optional[int] = None) -> list[SessionMetrics]:
        """Close every session due at ``watermark`` (default: the latest receive time seen). A replay
        passes its ReceiveClock's reference, which one player's clock cannot move."""
        now = self.watermark if watermark is None else watermark
        self._expire(now)
        due = [sid for sid, s in self.sessions.items() if self.rule.is_due(s.last_rx, s.end_rx, now)]
        return [self._close(sid, now, None) for sid in due]

    def close_all(self, reason: str = "end_of_input") -> list[SessionMetrics]:
        """Close everything (end of a replay). Sessions that had ended keep their own reason."""
        return [self._close(sid, self.watermark, reason) for sid in list(self.sessions)]

    def _close(self, sid: str, now: int, reason: Optional[str]) -> SessionMetrics:
        session = self.sessions.pop(sid)
        close_reason = self.rule.close_reason(session.end_reason, reason)
        self._retained[sid] = _Retained(session, now)
        if len(self._retained) > self.max_retained:
            self._bury(*self._retained.popitem(last=False)[:1])
        return compute_session(session.events.values(), close_reason)

    def _expire(self, now: int) -> None:
        """Committed sessions past their retention lose their events; their ids stay (bounded)."""
        while self._retained:
            sid, oldest = next(iter(self._retained.items()))
            if self.rule.reopens(oldest.committed_rx, now):
                break
            del self._retained[sid]
            self._bury(sid)

    def _bury(self, sid: str) -> None:
        self._tombstones[sid] = None
        while len(self._tombstones) > self.max_retained:
            self._tombstones.popitem(last=False)
