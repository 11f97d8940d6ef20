"""Dead letters: what becomes of an input that cannot be stored, with a stable reason.

Both use cases (the stream consumer and the file replay) build them here, so a reason and its detail
read the same whichever path rejected the input.

    >>> from netflix_clone.analytics_consumer.domain.closing import ClosingRule
    >>> late_letter("1-0", b"{}", "s1", ClosingRule()).detail
    'session s1 was committed more than 3600000 ms ago'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netflix_clone.analytics_consumer.domain.closing import ClosingRule
from netflix_clone.contracts.player_events import PlayerEvent

__all__ = ["DeadLetter", "late_letter", "overflow_letter", "skew_letter"]


@dataclass(frozen=True)
class DeadLetter:
    token: Any
    payload: bytes
    reason: str
    detail: str


def skew_letter(token: Any, payload: bytes, event: PlayerEvent, rx: int, rule: ClosingRule) -> DeadLetter:
    return DeadLetter(
        token,
        payload,
        "clock_skew",
        f"ts {event.ts} is {event.ts - rx} ms ahead of its receive time {rx} "
        f"(allowed {rule.max_future_skew_ms} ms)",
    )


def late_letter(token: Any, payload: bytes, sid: str, rule: ClosingRule) -> DeadLetter:
    return DeadLetter(token, payload, "late", f"session {sid} was committed more than {rule.retention_ms} ms ago")


def overflow_letter(token: Any, payload: bytes, sid: str) -> DeadLetter:
    return DeadLetter(token, payload, "session_too_large", f"session {sid} holds the maximum of events")
