"""Redis Streams with consumer groups: the live event source, and the dead-letter stream.

Delivery is at-least-once: an entry stays pending until it is acked, and it is acked only once it is
stored in the session store or dead-lettered. A consumer that dies leaves its entries pending; a live
one takes them over with XAUTOCLAIM once they have been idle `claim_idle_ms`; a restarted consumer first
re-reads its own pending entries.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

__all__ = ["RedisStreamSource", "publish_events"]

FIELD = b"e"


class RedisStreamSource:
    def __init__(
        self,
        client: Any,
        *,
        stream: str,
        group: str,
        consumer: str,
        dead_letter_stream: str,
        batch: int = 1000,
        block_ms: int = 1000,
        claim_idle_ms: int = 60_000,
    ) -> None:
        self.client = client
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.dead_letter_stream = dead_letter_stream
        self.batch = batch
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self._own_pending_done = False
        self._claim_cursor = "0-0"

    def ensure_group(self) -> None:
        try:
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except Exception as exc:  # redis.exceptions.ResponseError: BUSYGROUP when it exists
            if "BUSYGROUP" not in str(exc):
                raise

    def read(self) -> list[tuple[bytes, bytes]]:
        """The next batch: first this consumer's own pending entries (after a restart), then stale
        entries of dead consumers, then new entries."""
        if not self._own_pending_done:
            entries = self._xreadgroup("0", block=None)
            if entries:
                return entries
            self._own_pending_done = True
        claimed = self._autoclaim()
        if claimed:
            return claimed
        return self._xreadgroup(">", block=self.block_ms)

    def _xreadgroup(self, cursor: str, block: Any) -> list[tuple[bytes, bytes]]:
        reply = self.client.xreadgroup(
            self.group, self.consumer, {self.stream: cursor}, count=self.batch, block=block
        )
        if not reply:
            return []
        _, messages = reply[0]
        # Own-pending reads return entries deleted meanwhile as (id, None).
        return [
            (msg_id, fields.get(FIELD, b"")) for msg_id, fields in messages if fields is not None
        ]

    def _autoclaim(self) -> list[tuple[bytes, bytes]]:
        reply = self.client.xautoclaim(
            self.stream,
            self.group,
            self.consumer,
            self.claim_idle_ms,
            start_id=self._claim_cursor,
            count=self.batch,
        )
        self._claim_cursor = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
        return [
            (msg_id, fields.get(FIELD, b"")) for msg_id, fields in reply[1] if fields is not None
        ]

    def ack(self, ids: Sequence[bytes]) -> int:
        acked = 0
        for start in range(0, len(ids), 1000):
            acked += int(self.client.xack(self.stream, self.group, *ids[start : start + 1000]))
        return acked

    def dead_letter(self, msg_id: bytes, payload: bytes, reason: str, detail: str) -> None:
        self.client.xadd(
            self.dead_letter_stream,
            {
                "reason": reason,
                "detail": detail[:2000],
                "payload": payload,
                "source_id": msg_id,
                "source_stream": self.stream,
                "at": str(int(time.time() * 1000)),
            },
        )

    def lag(self) -> int:
        """Entries not yet delivered to the group plus entries pending in it."""
        for info in self.client.xinfo_groups(self.stream):
            name = info.get("name")
            if (name.decode() if isinstance(name, bytes) else name) == self.group:
                return int(info.get("lag") or 0) + int(info.get("pending") or 0)
        return 0


def publish_events(client: Any, stream: str, payloads: Sequence[bytes], *, maxlen: int = 0) -> int:
    """Producer helper: XADD in pipelined batches; `maxlen` > 0 trims approximately."""
    sent = 0
    for start in range(0, len(payloads), 1000):
        pipe = client.pipeline(transaction=False)
        for payload in payloads[start : start + 1000]:
            if maxlen:
                pipe.xadd(stream, {FIELD: payload}, maxlen=maxlen, approximate=True)
            else:
                pipe.xadd(stream, {FIELD: payload})
        sent += len(pipe.execute())
    return sent
