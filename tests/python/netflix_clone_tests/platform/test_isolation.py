"""The test fixtures themselves: isolation and clean-up on the real servers."""

from __future__ import annotations

import time

import psycopg2

from netflix_clone_testing.backends import (
    ADMIN_DSN,
    RedisNamespace,
    isolated_postgres_database,
    isolated_redis_namespace,
)


def _database_exists(name: str) -> bool:
    conn = psycopg2.connect(ADMIN_DSN)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            return cur.fetchone() is not None
    finally:
        conn.close()


def test_each_database_is_private_and_dropped_even_with_open_connections() -> None:
    with isolated_postgres_database() as first, isolated_postgres_database() as second:
        assert first != second
        leaked = psycopg2.connect(first)  # left open on purpose: the drop must still succeed
        with leaked.cursor() as cur:
            cur.execute("CREATE TABLE t (x int)")
            cur.execute("SELECT current_database()")
            row = cur.fetchone()
            assert row is not None
            name = row[0]
        leaked.commit()
        other = psycopg2.connect(second)
        with other.cursor() as cur:
            cur.execute("SELECT to_regclass('t')")
            assert cur.fetchone() == (None,)
        other.close()
        assert _database_exists(name)
    assert not _database_exists(name)


def test_redis_namespace_keys_are_deleted_afterwards(redis_ns: RedisNamespace) -> None:
    with isolated_redis_namespace() as ns:
        ns.client.set(ns.key("a"), b"1")
        ns.client.hset(ns.key("b"), "f", "v")
        assert len(ns.keys()) == 2
        assert not ns.prefix.startswith(redis_ns.prefix)
    assert redis_ns.client.exists(f"{ns.prefix}a", f"{ns.prefix}b") == 0


def test_namespaces_left_by_a_killed_run_are_deleted_later(redis_ns: RedisNamespace) -> None:
    stale = f"nfc-test:{int(time.time()) - 4 * 3600}_1_abcdef:leftover"
    fresh = f"nfc-test:{int(time.time())}_1_abcdef:in-use"
    redis_ns.client.set(stale, b"x")
    redis_ns.client.set(fresh, b"x", ex=60)
    with isolated_redis_namespace():
        pass
    assert redis_ns.client.exists(stale) == 0
    assert redis_ns.client.exists(fresh) == 1
    redis_ns.client.delete(fresh)
