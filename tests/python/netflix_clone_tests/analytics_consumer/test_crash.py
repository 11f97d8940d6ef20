"""The crash test, small: a consumer SIGKILLed several times while events flow loses and duplicates nothing."""

from __future__ import annotations

from netflix_clone.tools.analytics.crash_check import run_crash_test
from netflix_clone_testing.backends import REDIS_URL


def test_repeated_sigkill_loses_and_double_counts_nothing() -> None:
    # Small batches and short lives: every kill lands while entries are still in flight.
    report = run_crash_test(REDIS_URL, sessions=40, kill_after_s=(0.02, 0.08), batch=100, max_kills=8)
    assert report.kills_mid_stream >= 3, report
    assert report.events_in > 5000
    assert (report.missing, report.unexpected, report.mismatched) == (0, 0, 0), report
    assert report.sessions_out == report.sessions_expected == 40
