"""Session sinks. Every sink upserts by session id, so a redelivered session overwrites itself instead of
counting twice; `write` returns only after the data is committed (the caller acks after that).

Each sink also writes the viewing-history record of the shared contract (recommendation-service's input)
for sessions that played something.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, Optional, Protocol

from netflix_clone.analytics_consumer.domain.qoe import rebuffering_ratio_sql
from netflix_clone.analytics_consumer.domain.session import SessionMetrics
from netflix_clone.contracts.viewing_history import POSTGRES_DDL as VIEWING_HISTORY_DDL
from netflix_clone.contracts.viewing_history import ViewingRecord

__all__ = ["JsonLinesSink", "PostgresSink", "SessionSink", "SqliteSink", "viewing_record"]

SESSION_COLUMNS = tuple(f.name for f in fields(SessionMetrics))


class SessionSink(Protocol):
    def write(self, sessions: Sequence[SessionMetrics]) -> None:
        ...

    def close(self) -> None:
        ...


def viewing_record(session: SessionMetrics) -> Optional[ViewingRecord]:
    if session.orphan or not session.user_id or not session.title_id or session.play_ms <= 0:
        return None
    return ViewingRecord(
        user_id=session.user_id,
        title_id=session.title_id,
        session_id=session.session_id,
        started_at=session.started_at_ms / 1000.0,
        watched_seconds=session.watched_s,
        completion=session.completion or 0.0,
        qoe_score=session.qoe_score,
        device=session.device,
        country=session.country,
    )


class JsonLinesSink:
    """Appends sessions as JSON lines (replay output; not idempotent across reruns, by nature)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(path, "a", encoding="utf-8")  # pylint: disable=consider-using-with

    def write(self, sessions: Sequence[SessionMetrics]) -> None:
        for session in sessions:
            self._handle.write(json.dumps(session.as_dict(), sort_keys=True) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


def _add_missing_columns(existing: set[str], add: Any) -> None:
    for column in SESSION_COLUMNS:
        if column not in existing:
            add(column)


def _session_ddl(types: dict[str, str], key_type: str) -> str:
    columns = ",\n".join(f"    {name} {types.get(name, 'TEXT')}" for name in SESSION_COLUMNS if name != "session_id")
    return f"CREATE TABLE IF NOT EXISTS sessions (\n    session_id {key_type} PRIMARY KEY,\n{columns}\n)"


class SqliteSink:
    """The embedded default: one SQLite file with `sessions` and `viewing_history`."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path)
        self.conn.execute("PRAGMA journal_mode=WAL")
        types = {
            n: "INTEGER"
            for n in (
                "started_at_ms",
                "ended_at_ms",
                "startup_ms",
                "play_ms",
                "stall_ms",
                "seek_stall_ms",
                "stall_count",
                "bitrate_switches",
                "events",
                "missing_events",
                "orphan",
                "exited_before_start",
                "start_failure",
                "playback_failure",
            )
        }
        types.update(
            {
                n: "REAL"
                for n in (
                    "rebuffering_ratio",
                    "avg_bitrate_kbps",
                    "watched_s",
                    "completion",
                    "qoe_score",
                )
            }
        )
        self.conn.execute(_session_ddl(types, "TEXT"))
        _add_missing_columns(
            {row[1] for row in self.conn.execute("PRAGMA table_info(sessions)")},
            lambda column: self.conn.execute(
                f"ALTER TABLE sessions ADD COLUMN {column} {types.get(column, 'TEXT')}"  # nosec B608
            ),
        )
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS viewing_history (session_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, "
            "title_id TEXT NOT NULL, started_at REAL NOT NULL, watched_seconds REAL NOT NULL, "
            "completion REAL NOT NULL, qoe_score REAL, device TEXT, country TEXT, schema_version INTEGER NOT NULL)"
        )
        self.conn.commit()

    def write(self, sessions: Sequence[SessionMetrics]) -> None:
        cols = ", ".join(SESSION_COLUMNS)
        marks = ", ".join("?" for _ in SESSION_COLUMNS)
        with self.conn:
            self.conn.executemany(
                f"INSERT OR REPLACE INTO sessions ({cols}) VALUES ({marks})",  # nosec B608 - fixed columns
                [tuple(getattr(s, c) for c in SESSION_COLUMNS) for s in sessions],
            )
            records = [r for r in map(viewing_record, sessions) if r is not None]
            self.conn.executemany(
                "INSERT OR REPLACE INTO viewing_history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [r.as_row() for r in records],
            )

    def close(self) -> None:
        self.conn.close()


POSTGRES_TYPES = {
    "started_at_ms": "bigint NOT NULL",
    "ended_at_ms": "bigint NOT NULL",
    "startup_ms": "integer",
    "orphan": "boolean NOT NULL DEFAULT false",
    "exited_before_start": "boolean NOT NULL",
    "start_failure": "boolean NOT NULL",
    "playback_failure": "boolean NOT NULL",
    "play_ms": "bigint NOT NULL",
    "stall_ms": "bigint NOT NULL",
    "seek_stall_ms": "bigint NOT NULL",
    "stall_count": "integer NOT NULL",
    "rebuffering_ratio": "double precision NOT NULL",
    "avg_bitrate_kbps": "double precision",
    "bitrate_switches": "integer NOT NULL",
    "watched_s": "double precision NOT NULL",
    "completion": "double precision",
    "qoe_score": "double precision",
    "events": "integer NOT NULL",
    "missing_events": "integer NOT NULL",
    "close_reason": "text NOT NULL",
}

# Per-minute aggregates are a view over the keyed sessions table: a redelivered session cannot be counted
# twice, and late corrections show up on the next read.
# The rebuffering ratio is generated from its one definition (domain/qoe.py); tested equal on PostgreSQL.
POSTGRES_AGGREGATES_DDL = f"""
CREATE OR REPLACE VIEW qoe_per_minute AS
SELECT date_trunc('minute', to_timestamp(started_at_ms / 1000.0)) AS minute,
       title_id, cdn, device, country,
       count(*) AS sessions,
       count(*) FILTER (WHERE exited_before_start) AS exits_before_start,
       count(*) FILTER (WHERE start_failure) AS start_failures,
       count(*) FILTER (WHERE playback_failure) AS playback_failures,
       avg(startup_ms) AS avg_startup_ms,
       {rebuffering_ratio_sql("sum(stall_ms)", "sum(play_ms)")} AS rebuffering_ratio,
       avg(avg_bitrate_kbps) AS avg_bitrate_kbps,
       avg(qoe_score) AS avg_qoe_score,
       sum(watched_s) AS watched_s
FROM sessions
WHERE NOT orphan
GROUP BY 1, 2, 3, 4, 5
"""  # nosec B608 - fixed expressions, no input


class PostgresSink:
    def __init__(self, dsn: str) -> None:
        from netflix_clone.platform.connections import connect_postgres

        self.conn = connect_postgres(dsn, application_name="analytics-consumer")
        with self.conn.cursor() as cur:
            cur.execute(_session_ddl(POSTGRES_TYPES, "text"))
            # Tables from before a column existed get it (rows written earlier take its default).
            for column in SESSION_COLUMNS:
                cur.execute(
                    f"ALTER TABLE sessions ADD COLUMN IF NOT EXISTS {column} "  # nosec B608 - fixed names
                    f"{POSTGRES_TYPES.get(column, 'text')}"
                )
            cur.execute(VIEWING_HISTORY_DDL)
            cur.execute(POSTGRES_AGGREGATES_DDL)
        self.conn.commit()

    def write(self, sessions: Sequence[SessionMetrics]) -> None:
        if not sessions:
            return
        cols = ", ".join(SESSION_COLUMNS)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in SESSION_COLUMNS if c != "session_id")
        rows: list[Any] = [tuple(getattr(s, c) for c in SESSION_COLUMNS) for s in sessions]
        records = [r for r in map(viewing_record, sessions) if r is not None]
        try:
            self._write(cols, updates, rows, records)
        except Exception:
            self.conn.rollback()  # an aborted transaction would refuse every later write
            raise

    def _write(self, cols: str, updates: str, rows: list[Any], records: list[ViewingRecord]) -> None:
        from psycopg2.extras import execute_values

        with self.conn.cursor() as cur:
            execute_values(
                cur,
                # Column names come from the SessionMetrics dataclass, never from input.
                f"INSERT INTO sessions ({cols}) VALUES %s "  # nosec B608
                f"ON CONFLICT (session_id) DO UPDATE SET {updates}",
                rows,
                page_size=1000,
            )
            if records:
                execute_values(
                    cur,
                    "INSERT INTO viewing_history (session_id, user_id, title_id, started_at, watched_seconds,"
                    " completion, qoe_score, device, country, schema_version) VALUES %s"
                    " ON CONFLICT (session_id) DO UPDATE SET watched_seconds = EXCLUDED.watched_seconds,"
                    " completion = EXCLUDED.completion, qoe_score = EXCLUDED.qoe_score",
                    [r.as_row() for r in records],
                    template="(%s, %s, %s, to_timestamp(%s), %s, %s, %s, %s, %s, %s)",
                    page_size=1000,
                )
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()
