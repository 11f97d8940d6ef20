"""When a session is complete, and what a late or mis-stamped event does: one rule for every path.

Time here is *receive time* - when the platform got the event - never the player's clock. On the
stream path it is the Redis stream entry's id (the server's clock); in a file replay it is estimated by
:class:`ReceiveClock` from the file's own order. A player's timestamps still measure the session
itself (startup, play and stall time come from them), but they never decide when anything closes, so
no client can move time for everyone else.

* A session is **due** ``reorder_window_ms`` after its end (or fatal error) was received, else
  ``inactivity_timeout_ms`` after the last of its events was received. It closes once the watermark
  (the receive time up to which every event has been stored) passes that.
* An event received for a session already committed **reopens** it while the session's events are
  still retained (``retention_ms`` after the commit): it is recomputed from all its events and its row
  upserted over the earlier one. After that the event is **late**: it is dead-lettered, never merged
  into a partial recomputation.
* An event stamped more than ``max_future_skew_ms`` ahead of its receive time is dead-lettered as
  ``clock_skew``: a clock that far ahead would turn one heartbeat into a day of play time. Events stamped
  in the *past* are kept - players buffer events and send them late.

    >>> rule = ClosingRule(inactivity_timeout_ms=120_000, reorder_window_ms=5_000)
    >>> rule.due_at(last_rx=60_000, end_rx=None)
    180000
    >>> rule.due_at(last_rx=60_000, end_rx=50_000)
    55000
    >>> rule.skewed(event_ts=86_400_000 + 1_000, received_ms=1_000)
    True

The Redis session store asks the same questions of its indexes (:meth:`ClosingRule.due_cutoffs`)
and keeps a committed session's events for ``retention_ms`` (key expiry), which is
:meth:`ClosingRule.reopens` there: no other module states a part of this rule.

    >>> rule.due_cutoffs(watermark=200_000)
    (80000, 195000)
    >>> rule.close_reason(None), rule.close_reason("end", "backpressure"), rule.close_reason(None, "end_of_input")
    ('inactivity', 'end', 'end_of_input')
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Optional

from netflix_clone.contracts.player_events import End, Error, PlayerEvent

__all__ = ["ClosingRule", "ReceiveClock", "end_reason"]


def end_reason(event: PlayerEvent) -> Optional[str]:
    """Does ``event`` end its session? ``"end"`` for an end event, ``"fatal_error"`` for a fatal
    error, else ``None`` (the session is then closed by inactivity, or by the caller's reason)."""
    kind = type(event)
    if kind is End:
        return "end"
    if kind is Error and event.fatal:  # type: ignore[union-attr]
        return "fatal_error"
    return None


@dataclass(frozen=True)
class ClosingRule:
    inactivity_timeout_ms: int = 120_000
    reorder_window_ms: int = 5_000
    retention_ms: int = 3_600_000
    max_future_skew_ms: int = 300_000

    def __post_init__(self) -> None:
        for name in (
            "inactivity_timeout_ms",
            "reorder_window_ms",
            "retention_ms",
            "max_future_skew_ms",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")

    def due_at(self, last_rx: int, end_rx: Optional[int]) -> int:
        if end_rx is not None:
            return end_rx + self.reorder_window_ms
        return last_rx + self.inactivity_timeout_ms

    def is_due(self, last_rx: int, end_rx: Optional[int], watermark: int) -> bool:
        return watermark >= self.due_at(last_rx, end_rx)

    def skewed(self, event_ts: int, received_ms: int) -> bool:
        return event_ts > received_ms + self.max_future_skew_ms

    def reopens(self, committed_rx: int, received_ms: int) -> bool:
        """Does an event received at ``received_ms`` reopen a session committed at ``committed_rx``?"""
        return received_ms - committed_rx <= self.retention_ms

    def due_cutoffs(self, watermark: int) -> tuple[int, int]:
        """(last receive time, end receive time) at or before which a session is due at ``watermark``:
        :meth:`is_due` for an index of sessions by either time."""
        return watermark - self.inactivity_timeout_ms, watermark - self.reorder_window_ms

    @staticmethod
    def close_reason(ended: Optional[str], forced: Optional[str] = None) -> str:
        """A session that ended keeps its own reason (``end``, ``fatal_error``); otherwise the reason
        it was closed early for (``end_of_input``, ``backpressure``), else ``inactivity``."""
        return ended or forced or "inactivity"


class ReceiveClock:
    """Receive time for events that carry none (a file replay), robust to players' clocks.

    The reference is the ``quorum``-th latest timestamp among the sessions seen in the last ``window``
    lines (each session counted once, by its latest *accepted* timestamp). One session - or up to
    ``quorum - 1`` of them - cannot move it, however wrong its clock; with fewer sessions around, the
    quorum shrinks to what there is (a lone session is its own reference). An event stamped more than
    ``max_future_skew_ms`` ahead of both the reference and its own session's last accepted event is
    reported as skewed and not counted; a session's first event only when at least ``quorum``
    sessions are around to say what time it is.

    >>> clock = ReceiveClock(max_future_skew_ms=1_000)
    >>> events = [("a", 100), ("b", 200), ("c", 300), ("d", 86_400_000), ("a", 400)]
    >>> [clock.observe(sid, ts) for sid, ts in events]
    [(100, False), (100, False), (100, False), (100, True), (200, False)]
    """

    def __init__(self, max_future_skew_ms: int = 300_000, window: int = 64, quorum: int = 3) -> None:
        if window < 1 or quorum < 1:
            raise ValueError("window and quorum must be at least 1")
        self.max_future_skew_ms = max_future_skew_ms
        self.window = window
        self.quorum = quorum
        self._latest: dict[str, int] = {}  # sid -> latest accepted ts, in order of last appearance
        self._line = 0
        self._seen_at: dict[str, int] = {}
        self.now = 0

    def _reference(self) -> Optional[int]:
        if not self._latest:
            return None
        k = min(self.quorum, len(self._latest))
        return heapq.nlargest(k, self._latest.values())[-1]

    def observe(self, sid: str, ts: int) -> tuple[int, bool]:
        """(receive time for this event, is it skewed?). Skewed events do not move the clock."""
        self._line += 1
        stale = [s for s, at in self._seen_at.items() if self._line - at > self.window]
        for old in stale:
            del self._seen_at[old]
            del self._latest[old]
        reference = self._reference()
        own = self._latest.get(sid)
        if own is not None:
            # A known session is judged against the reference and its own last accepted event: a
            # player alone in a quiet stretch is not held back by sessions that ended before it.
            front = own if reference is None else max(reference, own)
            if ts > front + self.max_future_skew_ms:
                return (reference if reference is not None else own), True
        elif reference is not None and len(self._latest) >= self.quorum:
            # A newcomer is judged only where enough sessions agree on the time: after a quiet
            # stretch with fewer of them, a new session far ahead is more likely the time moving on.
            if ts > reference + self.max_future_skew_ms:
                return reference, True
        self._seen_at[sid] = self._line
        if ts > self._latest.get(sid, -1):
            self._latest[sid] = ts
        reference = self._reference()
        self.now = reference if reference is not None else ts
        return self.now, False
