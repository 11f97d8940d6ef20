"""Job queues: SQLite for one machine (the default), PostgreSQL ``FOR UPDATE SKIP LOCKED`` for many.

Workers claim a job with a lease and renew it while they work (heartbeat with progress). A worker
that dies stops renewing; once the lease lapses the job is claimable again as a new attempt. Every
write after the claim names the worker, so a worker that lost its lease cannot overwrite the state a
newer attempt wrote.

A job's title id becomes a path and an S3 key, so it is checked against the catalog contract's
pattern when the job is enqueued and again when it is claimed: a row that reached the table some
other way with an unsafe id is failed at claim, permanently and with the reason, and never handed
to a worker.

Threads: the worker's claim loop, its lease heartbeat and the ops server's ``/readyz`` all use the
queue at once. SQLite opens a connection per call; PostgreSQL borrows one from a small pool per call
(never two threads on one connection), and the claim's transaction is an explicit BEGIN/COMMIT on
its own connection, so no connection ever changes mode under another thread's query.

Long module: two backends of one protocol; they share the leased-write SQL (``_LeasedWrites``), the
row type and the claim rules, and are read side by side when either changes.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Optional, Protocol

from netflix_clone.contracts.catalog import InvalidTitleId, check_title_id, is_valid_title_id
from netflix_clone.platform.dsn import parse_store
from netflix_clone.video_processor.domain.jobs import JobOutcome

__all__ = ["Job", "JobQueue", "PostgresJobQueue", "SqliteJobQueue", "open_queue"]

_FIELDS = (
    "id",
    "title_id",
    "name",
    "input",
    "settings",
    "state",
    "attempts",
    "max_attempts",
    "progress",
    "stage",
    "reason",
    "result",
    "worker",
    "created_at",
    "updated_at",
)


@dataclass(frozen=True)
class Job:
    id: int
    title_id: str
    name: str
    input: str
    settings: dict[str, Any]
    state: str
    attempts: int
    max_attempts: int
    progress: float
    stage: Optional[str]
    reason: Optional[str]
    result: Optional[dict[str, Any]]
    worker: Optional[str]
    created_at: float
    updated_at: float

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELDS}


def _job(row: tuple[Any, ...]) -> Job:
    values = dict(zip(_FIELDS, row))
    for key in ("settings", "result"):
        if isinstance(values[key], str):
            values[key] = json.loads(values[key])
    values["settings"] = values["settings"] or {}
    return Job(**values)


class JobQueue(Protocol):
    def enqueue(
        self,
        title_id: str,
        name: str,
        input_path: str,
        settings: dict[str, Any],
        max_attempts: int = 3,
    ) -> int:
        ...

    def claim(self, worker: str, lease_s: float) -> Optional[Job]:
        ...

    def heartbeat(self, job_id: int, worker: str, progress: float, stage: str, lease_s: float) -> bool:
        ...

    def succeed(self, job_id: int, worker: str, result: dict[str, Any]) -> bool:
        ...

    def fail(self, job_id: int, worker: str, outcome: JobOutcome) -> bool:
        ...

    def get(self, job_id: int) -> Optional[Job]:
        ...

    def jobs(self, state: Optional[str] = None) -> list[Job]:
        ...

    def ping(self) -> None:
        ...


def _bad_id_reason(title_id: Any) -> str:
    return f"invalid_title_id: {InvalidTitleId(title_id)}"


_SQLITE_DDL = """
CREATE TABLE IF NOT EXISTS video_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title_id TEXT NOT NULL,
    name TEXT NOT NULL,
    input TEXT NOT NULL,
    settings TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    stage TEXT,
    reason TEXT,
    result TEXT,
    worker TEXT,
    not_before REAL NOT NULL,
    lease_until REAL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS video_jobs_claimable ON video_jobs (state, not_before);
"""

_EXPIRED_REASON = "worker stopped renewing its lease (crashed or killed)"


class _LeasedWrites:
    """The writes a worker makes while it holds a job, the same on every backend: each names the worker,
    so one that lost its lease changes nothing. Backends supply the placeholder and "now + seconds".
    """

    _P = "?"

    def _owned_update(self, job_id: int, worker: str, sets: str, params: tuple[Any, ...]) -> bool:
        raise NotImplementedError

    def _later(self, seconds: float) -> tuple[str, Any]:
        """SQL for the time ``seconds`` from now, and its bound value."""
        raise NotImplementedError

    def heartbeat(self, job_id: int, worker: str, progress: float, stage: str, lease_s: float) -> bool:
        until, value = self._later(lease_s)
        p = self._P
        return self._owned_update(
            job_id,
            worker,
            f"progress={p}, stage={p}, lease_until={until}",
            (progress, stage, value),
        )

    def succeed(self, job_id: int, worker: str, result: dict[str, Any]) -> bool:
        return self._owned_update(
            job_id,
            worker,
            f"state='succeeded', progress=1, stage='done', reason=NULL, lease_until=NULL, result={self._P}",
            (json.dumps(result),),
        )

    def fail(self, job_id: int, worker: str, outcome: JobOutcome) -> bool:
        retry_at, value = self._later(outcome.retry_in_s or 0.0)
        p = self._P
        return self._owned_update(
            job_id,
            worker,
            f"state={p}, reason={p}, lease_until=NULL, not_before={retry_at}",
            (outcome.state, outcome.reason, value),
        )


class SqliteJobQueue(_LeasedWrites):
    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.path = path
        with self._connect() as db:
            db.executescript(_SQLITE_DDL)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def enqueue(
        self,
        title_id: str,
        name: str,
        input_path: str,
        settings: dict[str, Any],
        max_attempts: int = 3,
    ) -> int:
        check_title_id(title_id)
        now = time.time()
        db = self._connect()
        try:
            cur = db.execute(
                "INSERT INTO video_jobs (title_id, name, input, settings, max_attempts, not_before, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (title_id, name, input_path, json.dumps(settings), max_attempts, now, now, now),
            )
            return int(cur.lastrowid or 0)
        finally:
            db.close()

    def claim(self, worker: str, lease_s: float) -> Optional[Job]:
        db = self._connect()
        try:
            while True:
                now = time.time()
                db.execute("BEGIN IMMEDIATE")  # one claimer at a time on this file
                row = db.execute(
                    "SELECT id, attempts, max_attempts, state, title_id FROM video_jobs "
                    "WHERE (state = 'queued' AND not_before <= ?) OR (state = 'running' AND lease_until < ?) "
                    "ORDER BY created_at, id LIMIT 1",
                    (now, now),
                ).fetchone()
                if row is None:
                    db.execute("COMMIT")
                    return None
                job_id, attempts, max_attempts, state, title_id = row
                if not is_valid_title_id(title_id):
                    db.execute(
                        "UPDATE video_jobs SET state='failed', reason=?, lease_until=NULL, updated_at=? WHERE id=?",
                        (_bad_id_reason(title_id), now, job_id),
                    )
                    db.execute("COMMIT")
                    continue
                if state == "running" and attempts >= max_attempts:
                    db.execute(
                        "UPDATE video_jobs SET state='failed', reason=?, lease_until=NULL, updated_at=? WHERE id=?",
                        (f"{_EXPIRED_REASON} (gave up after {attempts} attempts)", now, job_id),
                    )
                    db.execute("COMMIT")
                    continue
                db.execute(
                    "UPDATE video_jobs SET state='running', attempts=attempts+1, worker=?, lease_until=?, "
                    "progress=0, stage='claimed', updated_at=?, "
                    "reason=CASE WHEN state='running' THEN ? ELSE reason END WHERE id=?",
                    (worker, now + lease_s, now, _EXPIRED_REASON, job_id),
                )
                db.execute("COMMIT")
                return self.get(job_id)
        finally:
            db.close()

    def _owned_update(self, job_id: int, worker: str, sets: str, params: tuple[Any, ...]) -> bool:
        db = self._connect()
        try:
            cur = db.execute(
                # Only fixed fragments from this module are interpolated; values are bound.
                f"UPDATE video_jobs SET {sets}, updated_at=? WHERE id=? AND worker=? AND state='running'",  # nosec B608
                (*params, time.time(), job_id, worker),
            )
            return cur.rowcount == 1
        finally:
            db.close()

    def _later(self, seconds: float) -> tuple[str, Any]:
        return "?", time.time() + seconds

    def get(self, job_id: int) -> Optional[Job]:
        db = self._connect()
        try:
            row = db.execute(
                f"SELECT {','.join(_FIELDS)} FROM video_jobs WHERE id=?", (job_id,)
            ).fetchone()  # nosec B608
        finally:
            db.close()
        return _job(row) if row else None

    def jobs(self, state: Optional[str] = None) -> list[Job]:
        db = self._connect()
        try:
            sql = f"SELECT {','.join(_FIELDS)} FROM video_jobs"  # nosec B608 - fixed column names
            rows = (
                db.execute(sql + " WHERE state=? ORDER BY id", (state,)).fetchall()
                if state
                else db.execute(sql + " ORDER BY id").fetchall()
            )
        finally:
            db.close()
        return [_job(r) for r in rows]

    def ping(self) -> None:
        db = self._connect()
        try:
            db.execute("SELECT count(*) FROM video_jobs").fetchone()
        finally:
            db.close()


_PG_DDL = """
CREATE TABLE IF NOT EXISTS video_jobs (
    id BIGSERIAL PRIMARY KEY,
    title_id TEXT NOT NULL,
    name TEXT NOT NULL,
    input TEXT NOT NULL,
    settings JSONB NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    progress DOUBLE PRECISION NOT NULL DEFAULT 0,
    stage TEXT,
    reason TEXT,
    result JSONB,
    worker TEXT,
    not_before DOUBLE PRECISION NOT NULL,
    lease_until DOUBLE PRECISION,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS video_jobs_claimable ON video_jobs (state, not_before);
"""

_PG_NOW = "extract(epoch from clock_timestamp())"  # the database's clock, shared by every worker host


class PostgresPool:
    """At most ``size`` psycopg2 connections, each used by one thread at a time (autocommit on).

    A caller borrows a connection for one operation and gives it back; a connection that failed
    (server restart, network) is closed and replaced by the next borrower.
    """

    def __init__(self, dsn: str, size: int = 4, timeout_s: float = 30.0) -> None:
        if size < 1:
            raise ValueError("pool size must be >= 1")
        self.dsn = dsn
        self.timeout_s = timeout_s
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False

    def _open(self) -> Any:
        from netflix_clone.platform.connections import connect_postgres

        conn = connect_postgres(self.dsn, application_name="video-processor")
        conn.autocommit = True
        return conn

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        import psycopg2.extensions

        if not self._slots.acquire(timeout=self.timeout_s):
            raise TimeoutError(f"no PostgreSQL connection free within {self.timeout_s:.0f} s")
        conn = None
        try:
            with self._lock:
                if self._closed:
                    raise RuntimeError("the queue is closed")
                conn = self._idle.pop() if self._idle else None
            if conn is None or conn.closed:
                conn = self._open()
            yield conn
        finally:
            if conn is not None:
                # Back to the pool only if it is open and idle (not left inside a transaction by
                # an exception); otherwise closed, and the next borrower opens a fresh one.
                clean = not conn.closed and conn.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE
                with self._lock:
                    keep = clean and not self._closed
                    if keep:
                        self._idle.append(conn)
                if not keep and not conn.closed:
                    conn.close()
            self._slots.release()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class PostgresJobQueue(_LeasedWrites):
    _P = "%s"

    def __init__(self, dsn: str, pool_size: int = 4) -> None:
        self.dsn = dsn
        self.pool = PostgresPool(dsn, pool_size)
        with self.connection() as conn, conn.cursor() as cur:
            cur.execute(_PG_DDL)

    def connection(self) -> Any:
        """A pooled connection for one operation (a context manager)."""
        return self.pool.connection()

    def enqueue(
        self,
        title_id: str,
        name: str,
        input_path: str,
        settings: dict[str, Any],
        max_attempts: int = 3,
    ) -> int:
        check_title_id(title_id)
        with self.connection() as conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO video_jobs (title_id, name, input, settings, max_attempts, "  # nosec B608
                f"not_before, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, {_PG_NOW}, {_PG_NOW}, {_PG_NOW}) "
                "RETURNING id",
                (title_id, name, input_path, json.dumps(settings), max_attempts),
            )
            row = cur.fetchone()
        return int(row[0]) if row else 0

    def claim(self, worker: str, lease_s: float) -> Optional[Job]:
        while True:
            claimed: Optional[int] = None
            with self.connection() as conn, conn.cursor() as cur:
                # One transaction on this thread's own connection: the row stays locked from
                # SELECT to UPDATE. Explicit BEGIN/COMMIT, so the connection stays in autocommit.
                cur.execute("BEGIN")
                try:
                    cur.execute(
                        "SELECT id, attempts, max_attempts, state, title_id FROM video_jobs "  # nosec B608
                        f"WHERE (state = 'queued' AND not_before <= {_PG_NOW}) "
                        f"   OR (state = 'running' AND lease_until < {_PG_NOW}) "
                        "ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED"
                    )
                    row = cur.fetchone()
                    if row is None:
                        cur.execute("COMMIT")
                        return None
                    job_id, attempts, max_attempts, state, title_id = row
                    if not is_valid_title_id(title_id):
                        cur.execute(
                            f"UPDATE video_jobs SET state='failed', reason=%s, lease_until=NULL, "  # nosec B608
                            f"updated_at={_PG_NOW} WHERE id=%s",
                            (_bad_id_reason(title_id), job_id),
                        )
                    elif state == "running" and attempts >= max_attempts:
                        cur.execute(
                            f"UPDATE video_jobs SET state='failed', reason=%s, lease_until=NULL, "  # nosec B608
                            f"updated_at={_PG_NOW} WHERE id=%s",
                            (f"{_EXPIRED_REASON} (gave up after {attempts} attempts)", job_id),
                        )
                    else:
                        cur.execute(
                            "UPDATE video_jobs SET state='running', attempts=attempts+1, worker=%s, "  # nosec B608
                            f"lease_until={_PG_NOW} + %s, progress=0, stage='claimed', updated_at={_PG_NOW}, "
                            "reason=CASE WHEN state='running' THEN %s ELSE reason END WHERE id=%s",
                            (worker, lease_s, _EXPIRED_REASON, job_id),
                        )
                        claimed = job_id
                    cur.execute("COMMIT")
                except BaseException:
                    if not conn.closed:
                        cur.execute("ROLLBACK")
                    raise
            if claimed is not None:
                return self.get(claimed)

    def _owned_update(self, job_id: int, worker: str, sets: str, params: tuple[Any, ...]) -> bool:
        with self.connection() as conn, conn.cursor() as cur:
            cur.execute(
                f"UPDATE video_jobs SET {sets}, updated_at={_PG_NOW} "  # nosec B608
                "WHERE id=%s AND worker=%s AND state='running'",
                (*params, job_id, worker),
            )
            return bool(cur.rowcount == 1)

    def _later(self, seconds: float) -> tuple[str, Any]:
        return f"{_PG_NOW} + %s", seconds

    def get(self, job_id: int) -> Optional[Job]:
        with self.connection() as conn, conn.cursor() as cur:
            cur.execute(f"SELECT {','.join(_FIELDS)} FROM video_jobs WHERE id=%s", (job_id,))  # nosec B608
            row = cur.fetchone()
        return _job(row) if row else None

    def jobs(self, state: Optional[str] = None) -> list[Job]:
        sql = f"SELECT {','.join(_FIELDS)} FROM video_jobs"  # nosec B608 - fixed column names
        with self.connection() as conn, conn.cursor() as cur:
            if state:
                cur.execute(sql + " WHERE state=%s ORDER BY id", (state,))
            else:
                cur.execute(sql + " ORDER BY id")
            return [_job(r) for r in cur.fetchall()]

    def ping(self) -> None:
        with self.connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM video_jobs")
            cur.fetchone()

    def close(self) -> None:
        self.pool.close()


def open_queue(spec: str) -> Any:
    """The queue ``spec`` names, as :func:`netflix_clone.platform.dsn.parse_store` reads it: a PostgreSQL
    URL or libpq DSN (``dbname=app`` too) -> PostgreSQL; ``sqlite:///PATH`` or a path -> a SQLite file.
    Something that looks like a DSN but is not one is a usage error, never a file of that name."""
    store = parse_store(spec)
    if store.kind == "postgres":
        return PostgresJobQueue(store.target)
    return SqliteJobQueue(store.sqlite_path)
