from __future__ import annotations

from netflix_clone.analytics_consumer.domain.sessionizer import Sessionizer
from netflix_clone.contracts.player_events import End, FirstFrame, Heartbeat, PlayRequest


def _req(sid: str, ts: int) -> PlayRequest:
    return PlayRequest(
        v=1, sid=sid, seq=0, ts=ts, user_id="u", cid="t", device="tv", country="US", cdn="a"
    )


def test_closes_after_the_reorder_window_and_counts_late_events_inside_it() -> None:
    s = Sessionizer(reorder_window_ms=5_000, inactivity_timeout_ms=60_000)
    s.add(_req("a", 0), token="m0")
    s.add(FirstFrame(v=1, sid="a", seq=1, ts=1000), token="m1")
    s.add(End(v=1, sid="a", seq=3, ts=10_000), token="m3")
    assert not s.advance()
    s.add(
        Heartbeat(v=1, sid="a", seq=2, ts=9_000, pos_ms=8000), token="m2"
    )  # late, inside the window
    s.add(_req("b", 15_000))  # moves the watermark past the window
    closed = s.advance()
    assert [c.metrics.session_id for c in closed] == ["a"]
    assert closed[0].metrics.events == 4 and closed[0].metrics.close_reason == "end"
    assert sorted(str(t) for t in closed[0].tokens) == ["m0", "m1", "m2", "m3"]
    assert not s.add(Heartbeat(v=1, sid="a", seq=4, ts=16_000, pos_ms=9000), token="m4")
    assert s.late == 1


def test_inactivity_timeout_and_duplicates() -> None:
    s = Sessionizer(inactivity_timeout_ms=30_000)
    s.add(_req("a", 0))
    s.add(_req("a", 0))
    assert s.duplicates == 1
    assert not s.advance(29_999)
    closed = s.advance(30_000)
    assert closed[0].metrics.close_reason == "inactivity" and closed[0].metrics.exited_before_start


def test_memory_per_session_is_bounded() -> None:
    s = Sessionizer(max_events_per_session=10)
    for seq in range(25):
        s.add(Heartbeat(v=1, sid="a", seq=seq, ts=seq, pos_ms=seq))
    assert len(s.sessions["a"].events) == 10 and s.overflow == 15


def test_close_all_keeps_end_reasons() -> None:
    s = Sessionizer()
    s.add(_req("a", 0))
    s.add(End(v=1, sid="a", seq=1, ts=5))
    s.add(_req("b", 0))
    reasons = {c.metrics.session_id: c.metrics.close_reason for c in s.close_all()}
    assert reasons == {"a": "end", "b": "shutdown"}
