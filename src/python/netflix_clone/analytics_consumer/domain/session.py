"""Session metrics from a session's events: dedupe by sequence number, order by it, replay a state machine.

Because the result depends only on the set of distinct (seq, event) pairs, duplicates and reordering
within the reorder window change nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Optional

from netflix_clone.analytics_consumer.domain.qoe import QoeInputs, qoe_score, rebuffering_ratio
from netflix_clone.contracts.player_events import (
    End,
    Error,
    FirstFrame,
    Heartbeat,
    Pause,
    PlayerEvent,
    PlayRequest,
    RenditionChange,
    Resume,
    Seek,
    StallEnd,
    StallStart,
)

__all__ = ["SessionMetrics", "compute_session"]


@dataclass(frozen=True)
class SessionMetrics:
    session_id: str
    user_id: Optional[str]
    title_id: Optional[str]
    device: Optional[str]
    country: Optional[str]
    cdn: Optional[str]
    started_at_ms: int
    ended_at_ms: int
    close_reason: str  # end, fatal_error, inactivity, end_of_input, backpressure
    orphan: bool  # no play_request was ever received: not a viewing, kept apart from every QoE rate
    startup_ms: Optional[int]
    exited_before_start: bool
    start_failure: bool
    playback_failure: bool
    play_ms: int
    stall_ms: int  # network stalls after first frame
    seek_stall_ms: int
    stall_count: int
    rebuffering_ratio: float
    avg_bitrate_kbps: Optional[float]
    bitrate_switches: int
    watched_s: float
    completion: Optional[float]
    qoe_score: Optional[float]
    events: int
    missing_events: int  # gaps in the sequence numbers

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def compute_session(events: Iterable[PlayerEvent], close_reason: str) -> SessionMetrics:
    distinct: dict[int, PlayerEvent] = {}
    for event in events:
        distinct.setdefault(event.seq, event)
    if not distinct:
        raise ValueError("a session needs at least one event")
    ordered = [distinct[seq] for seq in sorted(distinct)]
    sid = ordered[0].sid

    request: Optional[PlayRequest] = None
    first_frame_ts: Optional[int] = None
    state = "init"
    stall_cause = "network"
    last_ts = ordered[0].ts
    play_ms = stall_ms = seek_stall_ms = 0.0
    stall_count = switches = 0
    bitrate: Optional[int] = None
    bitrate_time = 0.0
    position_ms = 0
    fatal_before_start = fatal_after_start = False

    # Dispatch on the exact type, most frequent first (heartbeats are most of a session): this loop
    # runs for every event of every session, and an isinstance chain was a third of its cost.
    for event in ordered:
        ts = event.ts
        # Client clocks may step backwards; never count negative time.
        elapsed = ts - last_ts if ts > last_ts else 0
        if state == "playing":
            play_ms += elapsed
            if bitrate is not None:
                bitrate_time += bitrate * elapsed
        elif state == "stalled":
            if stall_cause == "network":
                stall_ms += elapsed
            else:
                seek_stall_ms += elapsed
        if ts > last_ts:  # pylint: disable=consider-using-max-builtin  # the hot loop: no call
            last_ts = ts

        kind = type(event)
        if kind is Heartbeat:
            pos_ms: int = event.pos_ms  # type: ignore[union-attr,assignment]  # checked by kind
            if pos_ms > position_ms:  # pylint: disable=consider-using-max-builtin  # hot loop
                position_ms = pos_ms
        elif kind is RenditionChange:
            if first_frame_ts is not None and bitrate is not None and event.br != bitrate:  # type: ignore[union-attr]
                switches += 1
            bitrate = event.br  # type: ignore[union-attr]
        elif kind is StallStart:
            if state == "playing":
                state, stall_cause = "stalled", event.cause  # type: ignore[union-attr]
                stall_count += event.cause == "network"  # type: ignore[union-attr]
        elif kind is StallEnd:
            if state == "stalled":
                state = "playing"
        elif kind is PlayRequest:
            request = request or event  # type: ignore[assignment]
        elif kind is FirstFrame:
            if first_frame_ts is None:
                first_frame_ts = ts
                state = "playing"
        elif kind is Pause:
            if state in ("playing", "stalled"):
                state = "paused"
        elif kind is Resume:
            if state == "paused":
                state = "playing"
        elif kind is Seek:
            position_ms = max(position_ms, event.to_ms)  # type: ignore[union-attr]
        elif kind is Error:
            if event.fatal:  # type: ignore[union-attr]
                if first_frame_ts is None:
                    fatal_before_start = True
                else:
                    fatal_after_start = True
                state = "ended"
        elif kind is End:
            if event.pos_ms is not None:  # type: ignore[union-attr]
                position_ms = max(position_ms, event.pos_ms)  # type: ignore[union-attr]
            state = "ended"

    started = request.ts if request is not None else ordered[0].ts
    startup = first_frame_ts - request.ts if (first_frame_ts is not None and request is not None) else None
    orphan = request is None
    # EBVS needs a request that never started: events without a request are orphans, not exits.
    exited_before_start = not orphan and first_frame_ts is None and not fatal_before_start
    duration_s = request.duration_s if request is not None else None
    completion = min(1.0, position_ms / 1000.0 / duration_s) if duration_s else None
    inputs = QoeInputs(
        startup_ms=float(startup) if startup is not None else None,
        play_ms=play_ms,
        stall_ms=stall_ms,
        stall_count=stall_count,
        failed=fatal_before_start or fatal_after_start,
        exited_before_start=exited_before_start,
    )
    seqs = sorted(distinct)
    return SessionMetrics(
        session_id=sid,
        user_id=request.user_id if request else None,
        title_id=request.cid if request else None,
        device=request.device if request else None,
        country=request.country if request else None,
        cdn=request.cdn if request else None,
        started_at_ms=started,
        ended_at_ms=last_ts,
        close_reason=close_reason,
        orphan=orphan,
        startup_ms=startup,
        exited_before_start=exited_before_start,
        start_failure=fatal_before_start,
        playback_failure=fatal_after_start,
        play_ms=int(play_ms),
        stall_ms=int(stall_ms),
        seek_stall_ms=int(seek_stall_ms),
        stall_count=stall_count,
        rebuffering_ratio=round(rebuffering_ratio(stall_ms, play_ms), 6),
        avg_bitrate_kbps=round(bitrate_time / play_ms, 3) if play_ms > 0 and bitrate_time > 0 else None,
        bitrate_switches=switches,
        watched_s=round(play_ms / 1000.0, 3),
        completion=round(completion, 6) if completion is not None else None,
        qoe_score=None if orphan else qoe_score(inputs),
        events=len(distinct),
        missing_events=seqs[-1] + 1 - len(seqs),  # sequence numbers start at 0
    )
