"""The file replay use case: JSON lines (a file or stdin) -> sessions -> sinks, dead letters aside.

Receive time is estimated from the file's own order (:class:`ReceiveClock`), and sessions close by the
same :class:`ClosingRule` as on the stream (``consumer.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from netflix_clone.analytics_consumer.adapters.sinks import SessionSink
from netflix_clone.analytics_consumer.domain.closing import ClosingRule, ReceiveClock
from netflix_clone.analytics_consumer.domain.dead_letters import DeadLetter, late_letter, overflow_letter, skew_letter
from netflix_clone.analytics_consumer.domain.session import SessionMetrics
from netflix_clone.analytics_consumer.domain.sessionizer import Added, Sessionizer
from netflix_clone.contracts.player_events import EventError, decode_event

__all__ = ["DeadLetter", "ReplayResult", "replay_lines"]


@dataclass
class ReplayResult:
    events: int = 0
    stored: int = 0
    sessions: int = 0
    commits: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)


def replay_lines(
    lines: Iterable[tuple[Any, bytes]],
    sinks: Sequence[SessionSink],
    rule: Optional[ClosingRule] = None,
    *,
    on_dead: Optional[Callable[[DeadLetter], None]] = None,
    flush_every: int = 5000,
    progress: Optional[Callable[[ReplayResult], None]] = None,
) -> tuple[ReplayResult, Sessionizer]:
    """Sessionize (token, payload) lines, in order, into the sinks. A bad line is dead-lettered and
    skipped; a session the sinks reject is dead-lettered whole; everything else is written."""
    rule = rule or ClosingRule()
    sessionizer = Sessionizer(rule)
    clock = ReceiveClock(rule.max_future_skew_ms)
    result = ReplayResult()
    committed: set[str] = set()

    def dead(letter: DeadLetter) -> None:
        if on_dead is None:
            result.dead_letters.append(letter)
        else:
            on_dead(letter)
        result.reasons[letter.reason] = result.reasons.get(letter.reason, 0) + 1

    def write(closed: list[SessionMetrics]) -> None:
        if not closed:
            return
        for ok in _write_each(closed, sinks, dead):
            result.commits += 1
            if ok.session_id not in committed:
                committed.add(ok.session_id)
                result.sessions += 1

    pending = 0
    for token, payload in lines:
        result.events += 1
        try:
            event = decode_event(payload)
        except EventError as error:
            dead(DeadLetter(token, payload, error.reason, error.detail))
            continue
        rx, skewed = clock.observe(event.sid, event.ts)
        if skewed:
            dead(skew_letter(token, payload, event, rx, rule))
            continue
        outcome = sessionizer.add(event, rx)
        if outcome == Added.LATE:
            dead(late_letter(token, payload, event.sid, rule))
        elif outcome == Added.OVERFLOW:
            dead(overflow_letter(token, payload, event.sid))
        else:
            result.stored += 1
        pending += 1
        if pending >= flush_every:
            pending = 0
            write(sessionizer.advance(clock.now))
            if progress is not None:
                progress(result)
    write(sessionizer.close_all())
    return result, sessionizer


def _write_each(
    sessions: list[SessionMetrics], sinks: Sequence[SessionSink], dead: Callable[[DeadLetter], None]
) -> list[SessionMetrics]:
    """All at once; if a sink refuses, one by one, dead-lettering the sessions it refuses. When it
    refuses every one of them it is down, not fed poison: that is raised, nothing dead-lettered."""
    try:
        for sink in sinks:
            sink.write(sessions)
        return sessions
    except Exception as exc:  # pylint: disable=broad-except  # isolate the session at fault
        first: Exception = exc
    written: list[SessionMetrics] = []
    refused: list[tuple[SessionMetrics, Exception]] = []
    for session in sessions:
        try:
            for sink in sinks:
                sink.write([session])
        except Exception as exc:  # pylint: disable=broad-except
            refused.append((session, exc))
            continue
        written.append(session)
    if not written:
        raise first
    for session, error in refused:
        dead(DeadLetter(session.session_id, b"", "sink_rejected", f"{type(error).__name__}: {error}"))
    return written
