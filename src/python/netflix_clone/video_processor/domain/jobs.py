"""Job identity and the job state machine shared by every queue backend.

queued -> running -> succeeded
                  -> queued (retry, after a back-off) -> ... -> failed (attempts exhausted)
                  -> failed (permanent: the input itself is bad)
A running job whose lease expires (its worker died) is claimable again; that claim is a new attempt.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Optional

__all__ = ["JobOutcome", "STATES", "job_key", "next_state_after_failure"]

STATES = ("queued", "running", "succeeded", "failed")


def job_key(input_sha256: str, settings: dict[str, Any]) -> str:
    """Same input bytes + same settings -> the same key, hence the same output object names."""
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(f"{input_sha256}\n{canonical}".encode()).hexdigest()
    return digest[:24]


@dataclass(frozen=True)
class JobOutcome:
    state: str  # queued (retry) or failed
    retry_in_s: Optional[float]
    reason: str


def next_state_after_failure(
    attempts: int, max_attempts: int, permanent: bool, reason: str, backoff_s: float = 5.0
) -> JobOutcome:
    """What a failed attempt leads to. Back-off doubles per attempt, capped at 10 minutes.

    >>> next_state_after_failure(2, 3, False, "encode failed")
    JobOutcome(state='queued', retry_in_s=10.0, reason='encode failed')
    >>> next_state_after_failure(3, 3, False, "encode failed").reason
    'encode failed (gave up after 3 attempts)'
    >>> next_state_after_failure(1, 3, True, "not_a_video: cannot read").state   # the bytes will not change
    'failed'
    """
    if permanent:
        return JobOutcome("failed", None, reason)
    if attempts >= max_attempts:
        return JobOutcome("failed", None, f"{reason} (gave up after {attempts} attempts)")
    return JobOutcome("queued", min(600.0, backoff_s * 2 ** (attempts - 1)), reason)
