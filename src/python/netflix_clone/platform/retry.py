"""The one retry helper: bounded attempts, exponential backoff with full jitter, on tenacity.

Every retry loop in the project goes through :func:`retry_call` (Redis clients use redis-py's own
``Retry``, configured where they are built). It retries on exceptions (``retry_on``) and, optionally,
on results (``retry_result``: an HTTP 503 is a result, not an exception); a result-driven wait such as
HTTP ``Retry-After`` comes from ``wait_for``. When the attempts run out, an exception becomes
:class:`RetryExhausted` (carrying the last one) and a result that still asked for a retry is returned
as it is, for the caller to judge.

    >>> answers = iter([503, 503, 200])
    >>> retry_call(lambda: next(answers), what="GET /healthz", attempts=5,
    ...            retry_result=lambda status: status >= 500, sleep=lambda _: None)
    200
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Optional, TypeVar

import tenacity

__all__ = ["RetryExhausted", "retry_call"]

T = TypeVar("T")
_log = logging.getLogger(__name__)


class RetryExhausted(Exception):
    def __init__(self, what: str, attempts: int, last: BaseException) -> None:
        self.attempts = attempts
        self.last = last
        super().__init__(f"{what} failed after {attempts} attempt(s): {last}")


def retry_call(
    fn: Callable[[], T],
    *,
    what: str,
    attempts: int = 3,
    base_delay: float = 0.2,
    max_delay: float = 5.0,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    retry_result: Optional[Callable[[T], bool]] = None,
    wait_for: Optional[Callable[[T], Optional[float]]] = None,
    jitter: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fn`` up to ``attempts`` times; see the module docstring.

    The n-th wait is uniform in ``[0, min(max_delay, base_delay * 2**(n-1))]`` (full jitter, so many
    clients retrying together spread out), or exactly that bound with ``jitter=False``; ``wait_for``
    may replace it for a given result (capped at ``max_delay`` too).
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    backoff: Any = (
        tenacity.wait_random_exponential(multiplier=base_delay, max=max_delay)
        if jitter
        else tenacity.wait_exponential(multiplier=base_delay, max=max_delay)
    )

    def _wait(state: tenacity.RetryCallState) -> float:
        outcome = state.outcome
        if wait_for is not None and outcome is not None and not outcome.failed:
            override = wait_for(outcome.result())
            if override is not None:
                return float(max(0.0, min(max_delay, override)))
        return float(backoff(state))

    retry: Any = tenacity.retry_if_exception_type(retry_on)
    if retry_result is not None:
        retry = retry | tenacity.retry_if_result(retry_result)

    def _log_retry(state: tenacity.RetryCallState) -> None:
        outcome = state.outcome
        detail = (
            f"{type(outcome.exception()).__name__}: {outcome.exception()}"
            if outcome is not None and outcome.failed
            else f"result {outcome.result()!r}"
            if outcome is not None
            else "?"
        )
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        _log.warning(
            "%s failed (attempt %d/%d), retrying in %.2fs: %s",
            what,
            state.attempt_number,
            attempts,
            delay,
            detail,
        )

    def _give_up(state: tenacity.RetryCallState) -> Any:
        outcome = state.outcome
        assert outcome is not None  # nosec B101 - tenacity calls this after an attempt
        if outcome.failed:
            exc = outcome.exception()
            assert exc is not None  # nosec B101
            raise RetryExhausted(what, state.attempt_number, exc) from exc
        return outcome.result()

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(attempts),
        wait=_wait,
        retry=retry,
        sleep=sleep,
        before_sleep=_log_retry,
        retry_error_callback=_give_up,
    )
    return retrying(fn)
