"""Deploy lock and deploy state in one DynamoDB item per (environment, service).

The lock is a conditional write: it is taken only if nobody holds it or the holder's lease has
expired, so two CI runs cannot deploy the same service at once, and a run that died does not block
the next one forever. Only the lock holder may write the state, which is how a stale runner that
wakes up late is kept from overwriting a newer deploy's record.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Optional

import boto3

from netflix_clone.deploy.domain.state import DeployState

__all__ = ["DeployCoordinator", "LockHeld"]


class LockHeld(RuntimeError):
    def __init__(self, key: str, owner: str, expires_at: float, now: float) -> None:
        self.owner = owner
        self.expires_at = expires_at
        super().__init__(
            f"deploy lock {key} is held by {owner} for another {max(0.0, expires_at - now):.0f} s; "
            "wait, or let it expire if that run is dead"
        )


class DeployCoordinator:
    def __init__(
        self, table: str, client: Any = None, clock: Callable[[], float] = time.time
    ) -> None:
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
            self.client.get_waiter("table_exists").wait(TableName=self.table)

    @staticmethod
    def key(environment: str, service: str) -> str:
        return f"{environment}#{service}"

    def acquire(self, key: str, owner: str, ttl_s: float) -> None:
        now = self.clock()
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": {"S": key}},
                UpdateExpression="SET lock_owner = :me, lock_expires = :exp",
                ConditionExpression="attribute_not_exists(lock_owner) OR lock_expires < :now OR lock_owner = :me",
                ExpressionAttributeValues={
                    ":me": {"S": owner},
                    ":exp": {"N": repr(now + ttl_s)},
                    ":now": {"N": repr(now)},
                },
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            holder = self.holder(key)
            owner_now, expires = holder if holder else ("unknown", now)
            raise LockHeld(key, owner_now, expires, now) from None

    def renew(self, key: str, owner: str, ttl_s: float) -> None:
        self.acquire(key, owner, ttl_s)

    def release(self, key: str, owner: str) -> None:
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": {"S": key}},
                UpdateExpression="REMOVE lock_owner, lock_expires",
                ConditionExpression="lock_owner = :me",
                ExpressionAttributeValues={":me": {"S": owner}},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            pass  # not ours (expired and taken over): nothing to release

    def holder(self, key: str) -> Optional[tuple[str, float]]:
        item = self.client.get_item(
            TableName=self.table, Key={"pk": {"S": key}}, ConsistentRead=True
        ).get("Item")
        if not item or "lock_owner" not in item:
            return None
        return item["lock_owner"]["S"], float(item["lock_expires"]["N"])

    def save(self, key: str, owner: str, state: DeployState) -> None:
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": {"S": key}},
                UpdateExpression="SET deploy_state = :s, deploy_id = :id",
                ConditionExpression="lock_owner = :me",
                ExpressionAttributeValues={
                    ":s": {"S": state.to_json()},
                    ":id": {"S": state.deploy_id},
                    ":me": {"S": owner},
                },
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise RuntimeError(f"lost the deploy lock {key}; another run took over") from None

    def load(self, key: str) -> Optional[DeployState]:
        item = self.client.get_item(
            TableName=self.table, Key={"pk": {"S": key}}, ConsistentRead=True
        ).get("Item")
        if not item or "deploy_state" not in item:
            return None
        return DeployState.from_json(item["deploy_state"]["S"])
