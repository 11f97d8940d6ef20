"""Viewing history per user in Cassandra, newest first: the partition is the user, rows are sessions.

INSERT is an upsert on the full primary key (user, started_at, session), so a redelivered session writes
the same row again instead of adding one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from netflix_clone.analytics_consumer.adapters.sinks import viewing_record
from netflix_clone.analytics_consumer.domain.session import SessionMetrics
from netflix_clone.analytics_consumer.errors import InvalidConfig, SinkWriteFailed
from netflix_clone.contracts.viewing_history import ViewingRecord

__all__ = ["CassandraHistorySink", "bind_values", "statements"]

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
COLUMNS = (
    "user_id",
    "started_at",
    "session_id",
    "title_id",
    "watched_seconds",
    "completion",
    "qoe_score",
    "device",
    "country",
    "schema_version",
)


def statements(
    keyspace: str, replication: str = "{'class': 'SimpleStrategy', 'replication_factor': 1}"
) -> dict[str, str]:
    if not _IDENTIFIER.match(keyspace):
        raise InvalidConfig(f"invalid Cassandra keyspace name {keyspace!r}")
    return {
        "keyspace": f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {replication}",
        "table": (
            f"CREATE TABLE IF NOT EXISTS {keyspace}.viewing_history_by_user ("
            "user_id text, started_at timestamp, session_id text, title_id text, watched_seconds double, "
            "completion double, qoe_score double, device text, country text, schema_version int, "
            "PRIMARY KEY ((user_id), started_at, session_id)"
            ") WITH CLUSTERING ORDER BY (started_at DESC, session_id ASC)"
        ),
        "insert": (
            f"INSERT INTO {keyspace}.viewing_history_by_user ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in COLUMNS)})"
        ),
        "recent": (f"SELECT {', '.join(COLUMNS)} FROM {keyspace}.viewing_history_by_user WHERE user_id = ? LIMIT ?"),
    }


def bind_values(record: ViewingRecord) -> tuple[Any, ...]:
    # Cassandra timestamps are milliseconds; the driver takes an int of ms or a datetime.
    from datetime import datetime, timezone

    started = datetime.fromtimestamp(record.started_at, tz=timezone.utc)
    return tuple(started if column == "started_at" else getattr(record, column) for column in COLUMNS)


class CassandraHistorySink:
    def __init__(self, session: Any, keyspace: str = "netflix_clone", *, concurrency: int = 64) -> None:
        cql = statements(keyspace)
        session.execute(cql["keyspace"])
        session.execute(cql["table"])
        self.session = session
        self.insert = session.prepare(cql["insert"])
        self.recent = session.prepare(cql["recent"])
        self.concurrency = concurrency

    def write(self, sessions: Sequence[SessionMetrics]) -> None:
        from cassandra.concurrent import execute_concurrent_with_args

        rows = [bind_values(r) for r in map(viewing_record, sessions) if r is not None]
        if not rows:
            return
        results = execute_concurrent_with_args(
            self.session, self.insert, rows, concurrency=self.concurrency, raise_on_first_error=True
        )
        failed = [r for r in results if not r.success]
        if failed:
            raise SinkWriteFailed(f"{len(failed)} Cassandra writes failed: {failed[0].result_or_exc}")

    def history(self, user_id: str, limit: int = 100) -> list[Any]:
        return list(self.session.execute(self.recent, (user_id, limit)))

    def close(self) -> None:
        self.session.cluster.shutdown()
