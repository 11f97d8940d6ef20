"""Connection factories for the shared backends, with timeouts, bounded retries and clear errors.

Every factory verifies the connection with a round trip before returning it, so a misconfigured address
fails at start-up with a `BackendUnavailable` that names it, rather than on the first request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import urlsplit

import psycopg2
import psycopg2.extensions
import redis
import redis.cluster

from netflix_clone.platform.errors import BackendUnavailable
from netflix_clone.platform.retry import RetryExhausted, retry_call

if TYPE_CHECKING:  # cassandra-driver is imported lazily: only deployments with Cassandra need it.
    from cassandra.cluster import Session

__all__ = [
    "BackendUnavailable",
    "connect_cassandra",
    "connect_postgres",
    "connect_redis",
    "postgres_address",
    "redis_address",
]


def postgres_address(dsn: str) -> str:
    params = psycopg2.extensions.parse_dsn(dsn)
    host = params.get("host") or "local socket"
    port = params.get("port") or "5432"
    return f"{host}:{port}/{params.get('dbname', '')}"


def connect_postgres(
    dsn: str,
    *,
    connect_timeout: float = 5.0,
    statement_timeout_ms: Optional[int] = None,
    attempts: int = 3,
    application_name: str = "netflix-clone",
) -> psycopg2.extensions.connection:
    """Open a psycopg2 connection (libpq DSN or postgresql:// URL)."""
    options = f"-c statement_timeout={statement_timeout_ms}" if statement_timeout_ms else None

    def _connect() -> psycopg2.extensions.connection:
        conn = psycopg2.connect(
            dsn,
            connect_timeout=max(1, int(connect_timeout)),
            application_name=application_name,
            options=options,
        )
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
        conn.rollback()
        return conn

    try:
        return retry_call(
            _connect,
            what="PostgreSQL connect",
            attempts=attempts,
            retry_on=(psycopg2.OperationalError,),
        )
    except RetryExhausted as exc:
        raise BackendUnavailable("PostgreSQL", postgres_address(dsn), exc.attempts, exc.last) from exc


def redis_address(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    db = parts.path.lstrip("/") or "0"
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or 6379}/{db}"


def connect_redis(
    url: str,
    *,
    cluster: bool = False,
    socket_timeout: float = 5.0,
    attempts: int = 3,
    decode_responses: bool = False,
) -> Any:
    """Open a Redis (or Redis Cluster) client; hiredis parses replies when it is installed."""
    common: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": socket_timeout,
        "decode_responses": decode_responses,
    }

    def _connect() -> Any:
        client: Any
        if cluster:
            client = redis.cluster.RedisCluster.from_url(url, **common)
        else:
            client = redis.Redis.from_url(url, health_check_interval=30, **common)
        client.ping()
        return client

    try:
        return retry_call(
            _connect,
            what="Redis connect",
            attempts=attempts,
            retry_on=(redis.exceptions.ConnectionError, redis.exceptions.TimeoutError),
        )
    except RetryExhausted as exc:
        raise BackendUnavailable("Redis", redis_address(url), exc.attempts, exc.last) from exc


def connect_cassandra(
    hosts: Sequence[str],
    *,
    port: int = 9042,
    keyspace: Optional[str] = None,
    connect_timeout: float = 5.0,
    request_timeout: float = 10.0,
    attempts: int = 3,
    local_dc: Optional[str] = None,
) -> Session:
    """Open a cassandra-driver session; token-aware routing, DC-aware when ``local_dc`` is given."""
    from cassandra.cluster import Cluster, NoHostAvailable
    from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy

    if not hosts:
        raise ValueError("at least one Cassandra host is required")

    def _connect() -> Session:
        cluster = Cluster(
            contact_points=list(hosts),
            port=port,
            connect_timeout=connect_timeout,
            load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=local_dc)),
            protocol_version=4,
        )
        try:
            session = cluster.connect(keyspace)
        except Exception:
            cluster.shutdown()
            raise
        session.default_timeout = request_timeout
        return session

    try:
        return retry_call(
            _connect,
            what="Cassandra connect",
            attempts=attempts,
            retry_on=(NoHostAvailable, OSError),
        )
    except RetryExhausted as exc:
        address = ",".join(f"{h}:{port}" for h in hosts)
        raise BackendUnavailable("Cassandra", address, exc.attempts, exc.last) from exc
