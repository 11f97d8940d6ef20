"""The documented worked example and the failure classes."""

from __future__ import annotations

import pytest

from netflix_clone.analytics_consumer.domain.qoe import MOS_MIN, QoeInputs, mos, qoe_score
from netflix_clone.analytics_consumer.domain.session import compute_session
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


def _req(ts: int = 0) -> PlayRequest:
    return PlayRequest(
        v=1,
        sid="s",
        seq=0,
        ts=ts,
        user_id="u",
        cid="t",
        device="tv",
        country="US",
        cdn="a",
        duration_s=240.0,
    )


def test_worked_example_from_the_docs() -> None:
    events: list[PlayerEvent] = [
        _req(),
        RenditionChange(v=1, sid="s", seq=1, ts=1000, br=3000, width=1280, height=720),
        FirstFrame(v=1, sid="s", seq=2, ts=1500),
        StallStart(v=1, sid="s", seq=3, ts=61_500, cause="network"),
        StallEnd(v=1, sid="s", seq=4, ts=63_500),
        RenditionChange(v=1, sid="s", seq=5, ts=63_500, br=6000, width=1920, height=1080),
        End(v=1, sid="s", seq=6, ts=123_500, pos_ms=120_000),
    ]
    m = compute_session(events, "end")
    assert m.startup_ms == 1500
    assert m.play_ms == 120_000 and m.stall_ms == 2000 and m.stall_count == 1
    assert m.rebuffering_ratio == pytest.approx(2 / 122, abs=1e-6)
    assert m.avg_bitrate_kbps == pytest.approx(4500)
    assert m.bitrate_switches == 1
    assert m.completion == pytest.approx(0.5)
    assert m.qoe_score == pytest.approx(96.33, abs=0.01)
    assert not (m.exited_before_start or m.start_failure or m.playback_failure)
    assert m.missing_events == 0


def test_seek_stalls_and_pauses_are_not_rebuffering() -> None:
    events: list[PlayerEvent] = [
        _req(),
        FirstFrame(v=1, sid="s", seq=1, ts=500),
        Seek(v=1, sid="s", seq=2, ts=10_500, from_ms=10_000, to_ms=100_000),
        StallStart(v=1, sid="s", seq=3, ts=10_500, cause="seek"),
        StallEnd(v=1, sid="s", seq=4, ts=13_500),
        Pause(v=1, sid="s", seq=5, ts=23_500),
        Resume(v=1, sid="s", seq=6, ts=83_500),
        Heartbeat(v=1, sid="s", seq=7, ts=93_500, pos_ms=130_000),
        End(v=1, sid="s", seq=8, ts=93_500),
    ]
    m = compute_session(events, "end")
    assert m.stall_ms == 0 and m.stall_count == 0 and m.rebuffering_ratio == 0.0
    assert m.seek_stall_ms == 3000
    assert m.play_ms == 10_000 + 10_000 + 10_000
    assert m.completion == pytest.approx(130 / 240)


def test_failure_classes() -> None:
    ebvs = compute_session([_req(), End(v=1, sid="s", seq=1, ts=9000)], "end")
    assert ebvs.exited_before_start and ebvs.qoe_score is None and ebvs.startup_ms is None
    vsf = compute_session([_req(), Error(v=1, sid="s", seq=1, ts=900, code="DRM", fatal=True)], "fatal_error")
    assert vsf.start_failure and not vsf.exited_before_start and vsf.qoe_score == 0.0
    vpf = compute_session(
        [
            _req(),
            FirstFrame(v=1, sid="s", seq=1, ts=500),
            Error(v=1, sid="s", seq=2, ts=9000, code="X", fatal=True),
        ],
        "fatal_error",
    )
    assert vpf.playback_failure and not vpf.start_failure and vpf.qoe_score == 0.0
    non_fatal = compute_session(
        [
            _req(),
            FirstFrame(v=1, sid="s", seq=1, ts=500),
            Error(v=1, sid="s", seq=2, ts=900, code="X", fatal=False),
        ],
        "inactivity",
    )
    assert not non_fatal.playback_failure


def test_gaps_are_counted() -> None:
    m = compute_session([_req(), FirstFrame(v=1, sid="s", seq=3, ts=500), End(v=1, sid="s", seq=5, ts=900)], "end")
    assert m.missing_events == 3


def test_mos_bounds() -> None:
    best = QoeInputs(
        startup_ms=500,
        play_ms=600_000,
        stall_ms=0,
        stall_count=0,
        failed=False,
        exited_before_start=False,
    )
    worst = QoeInputs(
        startup_ms=9000,
        play_ms=10_000,
        stall_ms=60_000,
        stall_count=5,
        failed=False,
        exited_before_start=False,
    )
    assert mos(best) == pytest.approx(4.23) and qoe_score(best) == 100.0
    assert mos(worst) == pytest.approx(MOS_MIN) and qoe_score(worst) == 0.0
