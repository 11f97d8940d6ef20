from __future__ import annotations

import pytest

from netflix_clone.platform.retry import RetryExhausted, retry_call


def test_retries_until_success_with_bounded_growing_delays() -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OSError("not yet")
        return "ok"

    result = retry_call(flaky, what="flaky", attempts=5, base_delay=0.1, max_delay=0.15, sleep=sleeps.append)
    assert result == "ok"
    assert len(calls) == 3
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.1 and 0 <= sleeps[1] <= 0.15


def test_gives_up_after_the_bound_and_keeps_the_cause() -> None:
    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        raise OSError("refused")

    with pytest.raises(RetryExhausted, match="probe failed after 4 attempt") as info:
        retry_call(broken, what="probe", attempts=4, sleep=lambda _: None)
    assert len(calls) == 4
    assert isinstance(info.value.last, OSError)


def test_errors_outside_retry_on_propagate_immediately() -> None:
    calls: list[int] = []

    def wrong() -> None:
        calls.append(1)
        raise KeyError("bug")

    with pytest.raises(KeyError):
        retry_call(wrong, what="x", attempts=3, retry_on=(OSError,), sleep=lambda _: None)
    assert len(calls) == 1


def test_results_can_ask_for_a_retry_and_the_last_one_is_returned() -> None:
    statuses = iter([503, 429, 503, 503])
    sleeps: list[float] = []
    result = retry_call(
        lambda: next(statuses),
        what="POST webhook",
        attempts=3,
        retry_result=lambda s: s == 429 or s >= 500,
        wait_for=lambda s: 7.0 if s == 429 else None,  # Retry-After
        max_delay=5.0,
        sleep=sleeps.append,
    )
    assert result == 503  # the attempts ran out: the caller judges the last answer
    assert len(sleeps) == 2 and sleeps[1] == 5.0  # Retry-After capped at max_delay


def test_without_jitter_the_waits_double() -> None:
    sleeps: list[float] = []

    def always() -> None:
        raise OSError("down")

    with pytest.raises(RetryExhausted):
        retry_call(always, what="x", attempts=4, base_delay=0.5, max_delay=1.5, jitter=False, sleep=sleeps.append)
    assert sleeps == [0.5, 1.0, 1.5]
