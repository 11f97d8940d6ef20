"""The deploy lock and the deploy record: one DynamoDB item per (environment, service).

The lock is a lease. ``acquire`` is a conditional write that succeeds only if nobody holds the lease
or the holder's lease has expired, and it stamps a fresh random *token*: the token, not the owner's
name, is the lease's identity, so two jobs of one workflow run (same run id) are still two holders.

* ``renew`` and ``save`` are conditional on *our* token and an unexpired lease. A run whose lease
  expired (it was paused, or lost DynamoDB for longer than the lease) therefore cannot renew it, even
  if nobody took it meanwhile: it has lost the lock and must stop. It never re-acquires.
* :class:`LeaseKeeper` renews the lease from a background thread during every wait (rollouts,
  analysis windows) and remembers, on the monotonic clock, when a renewal was last confirmed.
  :meth:`LeaseKeeper.check` is called before every change to AWS: if the lease is lost, or no renewal
  was confirmed for longer than the lease (the process was stopped, DynamoDB unreachable), it raises
  :class:`LockLost` and the run stops without touching anything.
* ``break_lock`` removes a lease only if it is still the one the operator saw (by token), so a
  stale ``break-lock`` cannot remove a newer run's lease.

Clock skew: expiry compares the lease's expiry time with the writer's wall clock. Runners whose
clocks differ by more than the renewal margin (a third of the lease) could see a live lease as expired;
keep runners on NTP (GitHub's are).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from netflix_clone.deploy.adapters.aws_gateway import describe_error
from netflix_clone.deploy.domain.state import DeployState
from netflix_clone.deploy.errors import LockHeld, LockLost

__all__ = ["DeployLock", "Holder", "Lease", "LeaseKeeper"]

log = logging.getLogger("netflix_clone.deploy.lock")


@dataclass(frozen=True)
class Lease:
    key: str
    owner: str
    token: str
    ttl_s: float


@dataclass(frozen=True)
class Holder:
    owner: str
    token: str
    expires_at: float

    def as_dict(self, now: float) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "token": self.token,
            "expires_at": self.expires_at,
            "expired": self.expires_at < now,
        }


class DeployLock:
    def __init__(self, table: str, client: Any = None, clock: Callable[[], float] = time.time) -> None:
        import boto3  # deferred: `deploy --help` and usage errors need no AWS SDK

        self.table = table
        self.client = client or boto3.client("dynamodb")
        self.clock = clock

    def ensure_table(self) -> None:
        try:
            self.client.describe_table(TableName=self.table)
        except self.client.exceptions.ResourceNotFoundException:
            self.client.create_table(
                TableName=self.table,
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            self.client.get_waiter("table_exists").wait(
                TableName=self.table, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )

    @staticmethod
    def key(environment: str, service: str) -> str:
        return f"{environment}#{service}"

    def acquire(self, key: str, owner: str, ttl_s: float) -> Lease:
        now = self.clock()
        token = uuid.uuid4().hex
        try:
            self._update(
                "acquire lock",
                Key={"pk": {"S": key}},
                UpdateExpression="SET lock_owner = :owner, lock_token = :token, lock_expires = :exp",
                ConditionExpression="attribute_not_exists(lock_token) OR lock_expires < :now",
                ExpressionAttributeValues={
                    ":owner": {"S": owner},
                    ":token": {"S": token},
                    ":exp": {"N": repr(now + ttl_s)},
                    ":now": {"N": repr(now)},
                },
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            holder = self.holder(key)
            if holder is not None and holder.token == token:
                # Our own write, applied once already: its answer was lost and the SDK retried it.
                return Lease(key, owner, token, ttl_s)
            if holder is None:  # released between our write and our read: try once more
                return self.acquire(key, owner, ttl_s)
            raise LockHeld(key, holder.owner, holder.expires_at, now) from None
        return Lease(key, owner, token, ttl_s)

    def renew(self, lease: Lease) -> float:
        """Extend our lease; returns the new expiry. Raises LockLost if it is no longer ours."""
        now = self.clock()
        try:
            self._update(
                "renew lock",
                Key={"pk": {"S": lease.key}},
                UpdateExpression="SET lock_expires = :exp",
                ConditionExpression="lock_token = :token AND lock_expires >= :now",
                ExpressionAttributeValues={
                    ":token": {"S": lease.token},
                    ":exp": {"N": repr(now + lease.ttl_s)},
                    ":now": {"N": repr(now)},
                },
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise LockLost(lease.key, self._lost_detail(lease)) from None
        return now + lease.ttl_s

    def release(self, lease: Lease) -> bool:
        try:
            self._update(
                "release lock",
                Key={"pk": {"S": lease.key}},
                UpdateExpression="REMOVE lock_owner, lock_token, lock_expires",
                ConditionExpression="lock_token = :token",
                ExpressionAttributeValues={":token": {"S": lease.token}},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False  # not ours any more (expired and taken over): nothing to release
        return True

    def break_lock(self, key: str, token: str) -> bool:
        """Remove the lease with ``token`` (as shown by ``deploy status``); False if another lease
        holds the lock now. (A retried removal whose first attempt already applied is a success.)"""
        try:
            self._update(
                "break lock",
                Key={"pk": {"S": key}},
                UpdateExpression="REMOVE lock_owner, lock_token, lock_expires",
                ConditionExpression="lock_token = :token",
                ExpressionAttributeValues={":token": {"S": token}},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return self.holder(key) is None
        return True

    def table_exists(self) -> bool:
        try:
            self.client.describe_table(TableName=self.table)
        except self.client.exceptions.ResourceNotFoundException:
            return False
        return True

    def holder(self, key: str) -> Optional[Holder]:
        item = self._item(key)
        if not item or "lock_token" not in item:
            return None
        return Holder(
            item.get("lock_owner", {}).get("S", "unknown"),
            item["lock_token"]["S"],
            float(item["lock_expires"]["N"]),
        )

    def save(self, lease: Lease, state: DeployState) -> None:
        """Write the deploy record; only the holder of a live lease may."""
        now = self.clock()
        try:
            self._update(
                "save deploy record",
                Key={"pk": {"S": lease.key}},
                UpdateExpression="SET deploy_state = :s, deploy_id = :id",
                ConditionExpression="lock_token = :token AND lock_expires >= :now",
                ExpressionAttributeValues={
                    ":s": {"S": state.to_json()},
                    ":id": {"S": state.deploy_id},
                    ":token": {"S": lease.token},
                    ":now": {"N": repr(now)},
                },
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise LockLost(lease.key, self._lost_detail(lease)) from None

    def load(self, key: str) -> Optional[DeployState]:
        item = self._item(key)
        if not item or "deploy_state" not in item:
            return None
        return DeployState.from_json(item["deploy_state"]["S"])

    def _item(self, key: str) -> Optional[dict[str, Any]]:
        try:
            item: Optional[dict[str, Any]] = self.client.get_item(
                TableName=self.table, Key={"pk": {"S": key}}, ConsistentRead=True
            ).get("Item")
        except Exception as exc:
            raise describe_error(exc, f"DynamoDB GetItem {self.table}") from None
        return item

    def _update(self, what: str, **request: Any) -> None:
        """One conditional write; ConditionalCheckFailed passes through, other errors become one line."""
        try:
            self.client.update_item(TableName=self.table, **request)
        except self.client.exceptions.ConditionalCheckFailedException:
            raise
        except Exception as exc:
            raise describe_error(exc, f"DynamoDB {what} {self.table}") from None

    def _lost_detail(self, lease: Lease) -> str:
        try:
            holder = self.holder(lease.key)
        except Exception as exc:  # pylint: disable=broad-except  # only for the message
            return f"(holder unknown: {type(exc).__name__})"
        if holder is None:
            return "our lease expired and was released by another run"
        if holder.token == lease.token:
            return "our lease expired"
        return f"now held by {holder.owner}"


class LeaseKeeper:
    """Renews a lease every ``ttl / 3`` from a daemon thread while a deploy runs.

    ``check()`` is the fence in front of every change: it raises LockLost once the lease is known
    lost, or once no renewal has been confirmed for ``ttl - margin`` seconds of monotonic time
    (which also covers a process that was stopped and woke up after its lease expired).
    """

    def __init__(
        self,
        lock: DeployLock,
        lease: Lease,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        interval_s: Optional[float] = None,
        margin_s: Optional[float] = None,
    ) -> None:
        self.lock = lock
        self.lease = lease
        self.monotonic = monotonic
        self.interval_s = interval_s if interval_s is not None else max(0.05, lease.ttl_s / 3)
        # A change that passed the fence may still be in flight for up to one AWS call (retries
        # included): the fence closes that long before the lease could expire.
        self.margin_s = margin_s if margin_s is not None else min(self.interval_s, lease.ttl_s / 3)
        self.confirmed_at = monotonic()
        self.lost: Optional[LockLost] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "LeaseKeeper":
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def renew_now(self) -> None:
        if self.lost is not None:
            raise self.lost
        started = self.monotonic()
        try:
            self.lock.renew(self.lease)
        except LockLost as exc:
            self.lost = exc
            raise
        self.confirmed_at = started

    def check(self) -> None:
        if self.lost is not None:
            raise self.lost
        silent = self.monotonic() - self.confirmed_at
        if silent >= max(0.0, self.lease.ttl_s - self.margin_s):
            self.lost = LockLost(
                self.lease.key,
                f"no lease renewal confirmed for {silent:.0f} s (lease {self.lease.ttl_s:.0f} s)",
            )
            raise self.lost

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.renew_now()
            except LockLost as exc:
                log.error("deploy lock lost: %s", exc)
                return
            except Exception as exc:  # pylint: disable=broad-except  # retried next interval
                log.warning("lease renewal failed (will retry): %s: %s", type(exc).__name__, exc)
