"""The deploy lock's lease rules, against DynamoDB in moto: tokens, expiry, fencing, break-lock."""

from __future__ import annotations

import uuid

import boto3
import pytest

from netflix_clone.deploy.adapters.lock import DeployLock, LeaseKeeper
from netflix_clone.deploy.domain.state import DeployState
from netflix_clone.deploy.errors import LockHeld, LockLost


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture()
def lock(aws_endpoint: str) -> tuple[DeployLock, Clock]:
    clock = Clock()
    table = DeployLock(f"locks-{uuid.uuid4().hex[:6]}", boto3.client("dynamodb", region_name="us-east-1"), clock)
    table.ensure_table()
    return table, clock


def test_two_jobs_of_one_run_are_two_holders(lock: tuple[DeployLock, Clock]) -> None:
    table, _ = lock
    table.acquire("production#svc", "github-run-7.1/production", 60)
    with pytest.raises(LockHeld, match="held by github-run-7.1/production"):
        table.acquire("production#svc", "github-run-7.1/production", 60)  # same label, new token


def test_an_expired_lease_is_lost_even_if_nobody_took_it(lock: tuple[DeployLock, Clock]) -> None:
    table, clock = lock
    lease = table.acquire("production#svc", "a", 60)
    clock.t += 61
    with pytest.raises(LockLost, match="our lease expired"):
        table.renew(lease)
    state = DeployState("d1", "svc", "production", "img")
    with pytest.raises(LockLost):
        table.save(lease, state)
    assert table.load("production#svc") is None  # nothing written by the stale holder


def test_a_taken_over_lease_cannot_save_or_release(lock: tuple[DeployLock, Clock]) -> None:
    table, clock = lock
    stale = table.acquire("production#svc", "stale", 60)
    clock.t += 61
    fresh = table.acquire("production#svc", "operator", 60)
    with pytest.raises(LockLost, match="now held by operator"):
        table.save(stale, DeployState("d1", "svc", "production", "img"))
    assert table.release(stale) is False
    holder = table.holder("production#svc")
    assert holder is not None and holder.token == fresh.token
    assert table.release(fresh) is True and table.holder("production#svc") is None
    # After the operator released it, the stale run still cannot renew: it never re-takes the lock.
    with pytest.raises(LockLost, match="released by another run"):
        table.renew(stale)


def test_break_lock_needs_the_current_token(lock: tuple[DeployLock, Clock]) -> None:
    table, _ = lock
    lease = table.acquire("production#svc", "dead-run", 600)
    assert table.break_lock("production#svc", "0" * 32) is False
    assert table.holder("production#svc") is not None
    assert table.break_lock("production#svc", lease.token) is True
    assert table.holder("production#svc") is None


def test_keeper_fences_once_renewals_stop(lock: tuple[DeployLock, Clock]) -> None:
    table, _ = lock
    lease = table.acquire("production#svc", "a", 3)
    now = [0.0]
    keeper = LeaseKeeper(table, lease, monotonic=lambda: now[0])
    keeper.check()  # fresh
    keeper.renew_now()
    now[0] = 1.5
    keeper.check()  # within the lease minus the margin
    now[0] = 2.1  # no confirmed renewal for longer than ttl - margin (3 - 1)
    with pytest.raises(LockLost, match="no lease renewal confirmed"):
        keeper.check()
    with pytest.raises(LockLost):
        keeper.check()  # stays lost
