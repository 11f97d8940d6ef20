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

__all__ = ["RedisStreamSource", "entry_ms", "publish_events"]

FIELD = b"e"


def entry_ms(entry_id: Any) -> int:
    """The receive time of a stream entry: the milliseconds part of its id (the server's clock)."""
    if isinstance(entry_id, bytes):
        return int(entry_id[: entry_id.index(b"-")])
    raw = str(entry_id)
    return int(raw[: raw.index("-")])


def _raw_client(client: Any) -> Any:
    """A client sharing ``client``'s connections whose XREADGROUP replies are not post-processed
    (plain Redis only; a cluster client keeps redis-py's parsing)."""
    try:
        import redis  # pylint: disable=import-outside-toplevel
    except ImportError:  # pragma: no cover
        return None
    exact = type(client) is redis.Redis  # pylint: disable=unidiomatic-typecheck  # not subclasses
    if not exact or client.get_connection_kwargs().get("decode_responses"):
        return None
    raw = redis.Redis(connection_pool=client.connection_pool)
    raw.set_response_callback("XREADGROUP", lambda response, **_: response)
    return raw


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
        self._next_claim = 0.0
        self._raw = _raw_client(client)

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
        # Stale entries of dead consumers can only be claimed once idle for claim_idle_ms: looking
        # more often than a few times per that period only costs the server a scan of the pending list.
        now = time.monotonic()
        if now >= self._next_claim:
            claimed = self._autoclaim()
            if claimed:
                return claimed
            self._next_claim = now + min(1.0, self.claim_idle_ms / 4000)
        return self._xreadgroup(">", block=self.block_ms)

    def _xreadgroup(self, cursor: str, block: Any) -> list[tuple[bytes, bytes]]:
        if self._raw is not None:
            args: list[Any] = [
                "XREADGROUP",
                "GROUP",
                self.group,
                self.consumer,
                "COUNT",
                self.batch,
            ]
            if block is not None:
                args += ["BLOCK", block]
            reply = self._raw.execute_command(*args, "STREAMS", self.stream, cursor)
            if not reply:
                return []
            # {stream: [[id, [field, value]], ...]} (or [[stream, [...]]]); own-pending reads return
            # deleted entries as [id, nil]. Parsed here: redis-py's dict per entry cost more than the
            # rest of the read.
            messages = next(iter(reply.values())) if isinstance(reply, dict) else reply[0][1]
            return [
                (entry[0], entry[1][entry[1].index(FIELD) + 1] if FIELD in entry[1] else b"")
                for entry in messages
                if entry[1]
            ]
        reply = self.client.xreadgroup(self.group, self.consumer, {self.stream: cursor}, count=self.batch, block=block)
        if not reply:
            return []
        _, messages = reply[0]
        # Own-pending reads return entries deleted meanwhile as (id, None).
        return [(msg_id, fields.get(FIELD, b"")) for msg_id, fields in messages if fields is not None]

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
        return [(msg_id, fields.get(FIELD, b"")) for msg_id, fields in reply[1] if fields is not None]

    def ack(self, ids: Sequence[bytes]) -> int:
        acked = 0
        for start in range(0, len(ids), 1000):
            acked += int(self.client.xack(self.stream, self.group, *ids[start : start + 1000]))
        return acked

    def dead_letter(self, msg_id: bytes, payload: bytes, reason: str, detail: str) -> None:
        self.dead_letter_many([(msg_id, payload, reason, detail)])

    def dead_letter_many(self, letters: Sequence[tuple[Any, bytes, str, str]]) -> None:
        """Dead letters keep the payload, the stable reason and the entry they came from; one pipeline
        for a batch. Only an oversized payload is cut (to 64 KiB: enough to see what it was)."""
        if not letters:
            return
        now = str(int(time.time() * 1000))
        pipe = self.client.pipeline(transaction=False)
        for msg_id, payload, reason, detail in letters:
            pipe.xadd(
                self.dead_letter_stream,
                {
                    "reason": reason,
                    "detail": detail[:2000],
                    "payload": payload[:65536] if reason == "payload_too_large" else payload,
                    "source_id": msg_id,
                    "source_stream": self.stream,
                    "at": now,
                },
            )
        pipe.execute()

    def delivery_counts(self, ids: Sequence[Any]) -> dict[bytes, int]:
        """How often each pending entry was delivered (XPENDING's counter), for the poison rule."""
        if not ids:
            return {}
        keys = sorted(ids, key=entry_ms)
        reply = self.client.xpending_range(
            self.stream, self.group, min=keys[0], max=keys[-1], count=max(len(ids) * 2, 100)
        )
        wanted = {i if isinstance(i, bytes) else str(i).encode() for i in ids}
        counts: dict[bytes, int] = {}
        for row in reply:
            mid = row["message_id"]
            mid = mid if isinstance(mid, bytes) else str(mid).encode()
            if mid in wanted:
                counts[mid] = int(row["times_delivered"])
        return counts

    def server_ms(self) -> int:
        seconds, micros = self.client.time()
        return int(seconds) * 1000 + int(micros) // 1000

    def watermark(self) -> int:
        """Receive time up to which every entry has been stored (the server's clock, never a player's).

        The oldest entry still pending in the group (delivered, not yet stored) bounds it; so does the
        group's read position while undelivered entries remain; with neither, it is the server's time.
        """
        now = self.server_ms()
        mark = now
        for info in self.client.xinfo_groups(self.stream):
            name = info.get("name")
            if (name.decode() if isinstance(name, bytes) else name) != self.group:
                continue
            lag = info.get("lag")
            last = info.get("last-delivered-id")
            if last is not None and (lag is None or int(lag) > 0):
                mark = min(mark, entry_ms(last))
            if int(info.get("pending") or 0):
                summary = self.client.xpending(self.stream, self.group)
                if summary.get("min"):
                    mark = min(mark, entry_ms(summary["min"]) - 1)
        return mark

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
