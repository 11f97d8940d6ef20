from __future__ import annotations

from netflix_clone.analytics_consumer.domain.closing import ClosingRule, ReceiveClock
from netflix_clone.analytics_consumer.domain.sessionizer import Added, Sessionizer
from netflix_clone.contracts.player_events import End, FirstFrame, Heartbeat, PlayRequest


def _req(sid: str, ts: int) -> PlayRequest:
    return PlayRequest(v=1, sid=sid, seq=0, ts=ts, user_id="u", cid="t", device="tv", country="US", cdn="a")


def test_closes_after_the_reorder_window_and_takes_late_events_inside_it() -> None:
    s = Sessionizer(ClosingRule(reorder_window_ms=5_000, inactivity_timeout_ms=60_000))
    s.add(_req("a", 0), 0)
    s.add(FirstFrame(v=1, sid="a", seq=1, ts=1000), 1000)
    s.add(End(v=1, sid="a", seq=3, ts=10_000), 10_000)
    assert not s.advance()
    s.add(Heartbeat(v=1, sid="a", seq=2, ts=9_000, pos_ms=8000), 12_000)  # late, inside the window
    s.add(_req("b", 15_000), 15_000)  # moves the watermark past the window
    closed = s.advance()
    assert [m.session_id for m in closed] == ["a"]
    assert closed[0].events == 4 and closed[0].close_reason == "end"


def test_a_late_event_reopens_within_the_retention_then_is_late() -> None:
    rule = ClosingRule(reorder_window_ms=1_000, inactivity_timeout_ms=60_000, retention_ms=10_000)
    s = Sessionizer(rule)
    s.add(_req("a", 0), 0)
    s.add(End(v=1, sid="a", seq=2, ts=5_000), 5_000)
    first = s.advance(6_000)
    assert first[0].events == 2
    assert s.add(Heartbeat(v=1, sid="a", seq=1, ts=3_000, pos_ms=1), 9_000) == Added.REOPENED
    again = s.advance(10_000)
    assert again[0].events == 3 and again[0].close_reason == "end"  # recomputed from every event
    assert s.add(Heartbeat(v=1, sid="a", seq=3, ts=6_000, pos_ms=1), 30_000) == Added.LATE
    assert s.late == 1 and not s.advance(40_000)


def test_inactivity_timeout_and_duplicates() -> None:
    s = Sessionizer(ClosingRule(inactivity_timeout_ms=30_000))
    assert s.add(_req("a", 0), 0) == Added.STORED
    assert s.add(_req("a", 0), 10) == Added.DUPLICATE
    assert s.duplicates == 1
    assert not s.advance(29_999)
    closed = s.advance(30_010)
    assert closed[0].close_reason == "inactivity" and closed[0].exited_before_start


def test_events_without_a_play_request_are_an_orphan_not_an_exit_before_start() -> None:
    s = Sessionizer()
    s.add(Heartbeat(v=1, sid="o", seq=3, ts=1_000, pos_ms=1), 1_000)
    (orphan,) = s.close_all()
    assert orphan.orphan and not orphan.exited_before_start and orphan.qoe_score is None
    assert orphan.user_id is None


def test_memory_per_session_is_bounded() -> None:
    s = Sessionizer(max_events_per_session=10)
    outcomes = [s.add(Heartbeat(v=1, sid="a", seq=seq, ts=seq, pos_ms=seq), seq) for seq in range(25)]
    assert len(s.sessions["a"].events) == 10 and s.overflow == 15
    assert outcomes.count(Added.OVERFLOW) == 15


def test_close_all_keeps_end_reasons() -> None:
    s = Sessionizer()
    s.add(_req("a", 0), 0)
    s.add(End(v=1, sid="a", seq=1, ts=5), 5)
    s.add(_req("b", 0), 0)
    reasons = {m.session_id: m.close_reason for m in s.close_all()}
    assert reasons == {"a": "end", "b": "end_of_input"}


def test_receive_clock_is_not_moved_by_one_player() -> None:
    clock = ReceiveClock(max_future_skew_ms=60_000)
    seen = []
    for i in range(200):
        for sid in ("a", "b", "c", "d"):
            seen.append(clock.observe(sid, 1_000_000 + i * 1_000))
    assert not any(skewed for _, skewed in seen)
    rx, skewed = clock.observe("e", 1_000_000 + 86_400_000)  # a newcomer a day ahead
    assert skewed and rx < 1_300_000
    rx, skewed = clock.observe("a", 1_000_000 + 200_000 + 86_400_000)  # a known player jumping a day
    assert skewed
    assert clock.observe("a", 1_201_000) == (clock.now, False) and clock.now < 1_300_000


def test_receive_clock_follows_a_lone_session() -> None:
    clock = ReceiveClock(max_future_skew_ms=60_000)
    assert not clock.observe("old", 0)[1]
    # One session alone for an hour after the other ended: judged against its own last event.
    assert not any(clock.observe("lone", 600_000 + i * 10_000)[1] for i in range(360))


def test_skew_is_judged_against_receive_time() -> None:
    rule = ClosingRule(max_future_skew_ms=300_000)
    assert not rule.skewed(event_ts=1_000_000 + 299_999, received_ms=1_000_000)
    assert rule.skewed(event_ts=1_000_000 + 300_001, received_ms=1_000_000)
    assert not rule.skewed(event_ts=0, received_ms=1_000_000)  # buffered and sent late: kept
