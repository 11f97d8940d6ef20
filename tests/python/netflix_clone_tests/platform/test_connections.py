"""Connection factories against the real PostgreSQL and Redis (and Cassandra where configured)."""

from __future__ import annotations

import socket

import psycopg2
import pytest
import redis

from netflix_clone.platform.connections import (
    BackendUnavailable,
    connect_cassandra,
    connect_postgres,
    connect_redis,
    postgres_address,
    redis_address,
)
from netflix_clone_testing.backends import RedisNamespace


def _closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_postgres_connects_and_applies_statement_timeout(pg_dsn: str) -> None:
    conn = connect_postgres(pg_dsn, statement_timeout_ms=200)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_database()")
            row = cur.fetchone()
            assert row is not None and row[0].startswith("nfc_test_")
            with pytest.raises(psycopg2.errors.QueryCanceled):
                cur.execute("SELECT pg_sleep(2)")
    finally:
        conn.close()


def test_postgres_unreachable_names_the_address_and_attempts() -> None:
    port = _closed_port()
    dsn = f"host=127.0.0.1 port={port} user=postgres dbname=app"
    with pytest.raises(BackendUnavailable) as info:
        connect_postgres(dsn, attempts=2, connect_timeout=1)
    assert info.value.address == f"127.0.0.1:{port}/app"
    assert f"PostgreSQL at 127.0.0.1:{port}/app is unreachable after 2 attempt(s)" in str(info.value)


def test_postgres_url_form_is_accepted() -> None:
    assert postgres_address("postgresql://u@db.internal:6543/shows") == "db.internal:6543/shows"


def test_redis_connects_with_hiredis_parser(redis_ns: RedisNamespace) -> None:
    client = connect_redis(redis_ns.url)
    try:
        client.set(redis_ns.key("k"), b"v", ex=30)
        assert client.get(redis_ns.key("k")) == b"v"
        parser = client.connection_pool.get_connection("PING")
        try:
            assert "Hiredis" in type(parser._parser).__name__  # pylint: disable=protected-access
        finally:
            client.connection_pool.release(parser)
    finally:
        client.close()


def test_redis_unreachable_names_the_address() -> None:
    port = _closed_port()
    with pytest.raises(BackendUnavailable, match=rf"Redis at 127.0.0.1:{port}/2 is unreachable after 2"):
        connect_redis(f"redis://127.0.0.1:{port}/2", attempts=2, socket_timeout=1)


def test_redis_address_forms() -> None:
    assert redis_address("redis://cache:6380") == "cache:6380/0"
    assert redis_address("rediss://:pw@cache/3") == "cache:6379/3"


def test_redis_errors_after_connect_are_not_masked(redis_ns: RedisNamespace) -> None:
    client = connect_redis(redis_ns.url)
    try:
        client.set(redis_ns.key("str"), b"x")
        with pytest.raises(redis.exceptions.ResponseError):
            client.lpush(redis_ns.key("str"), b"y")
    finally:
        client.close()


def test_cassandra_unreachable_names_every_contact_point() -> None:
    port = _closed_port()
    with pytest.raises(BackendUnavailable, match=rf"Cassandra at 127.0.0.1:{port} is unreachable after 1"):
        connect_cassandra(["127.0.0.1"], port=port, attempts=1, connect_timeout=1)


def test_cassandra_connects_where_configured(cassandra_hosts: list[str]) -> None:
    session = connect_cassandra(cassandra_hosts)
    try:
        row = session.execute("SELECT release_version FROM system.local").one()
        assert row is not None
    finally:
        session.cluster.shutdown()
