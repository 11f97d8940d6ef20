"""Isolated PostgreSQL databases and Redis namespaces on the real servers.

Pants runs test files in parallel processes, so every test module gets its own database (created from
template0, dropped with FORCE afterwards) and its own Redis key prefix (deleted afterwards). Names carry a
creation timestamp, so databases and keys left by a killed run are dropped by a later one.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.extensions
import pytest
import redis

ADMIN_DSN = os.environ.get(
    "NFC_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"
)
REDIS_URL = os.environ.get("NFC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DB_PREFIX = "nfc_test_"
REDIS_PREFIX = "nfc-test:"
STALE_AFTER_S = 3 * 3600


def unique_name(prefix: str) -> str:
    return f"{prefix}{int(time.time())}_{os.getpid()}_{secrets.token_hex(3)}"


def _admin_connection() -> Any:
    try:
        conn = psycopg2.connect(ADMIN_DSN)
    except psycopg2.OperationalError as exc:
        pytest.fail(
            f"the test PostgreSQL server ({ADMIN_DSN}) is unreachable: {exc}. "
            "`.ci/run` starts it; or point NFC_TEST_PG_DSN at one.",
            pytrace=False,
        )
    conn.autocommit = True
    return conn


def _drop_stale_databases(cur: Any) -> None:
    cur.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (DB_PREFIX + "%",))
    now = int(time.time())
    for (name,) in cur.fetchall():
        try:
            created = int(name[len(DB_PREFIX) :].split("_", 1)[0])
        except ValueError:
            continue
        if now - created > STALE_AFTER_S:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def isolated_postgres_database() -> Iterator[str]:
    """Yield the DSN of a new, empty database; drop it afterwards."""
    admin = _admin_connection()
    name = unique_name(DB_PREFIX)
    try:
        with admin.cursor() as cur:
            _drop_stale_databases(cur)
            cur.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        yield psycopg2.extensions.make_dsn(ADMIN_DSN, dbname=name)
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@dataclass(frozen=True)
class RedisNamespace:
    """A key prefix on the shared Redis: code under test must put every key under `prefix`."""

    url: str
    prefix: str
    client: Any  # redis.Redis; typed loosely: its stubs union every reply with Awaitable

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def keys(self) -> list[bytes]:
        return sorted(self.client.scan_iter(match=f"{self.prefix}*", count=1000))


@contextmanager
def isolated_redis_namespace() -> Iterator[RedisNamespace]:
    client: redis.Redis = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(
            f"the test Redis server ({REDIS_URL}) is unreachable: {exc}. "
            "`.ci/run` starts it; or point NFC_TEST_REDIS_URL at one.",
            pytrace=False,
        )
    _delete_stale_namespaces(client)
    ns = RedisNamespace(REDIS_URL, f"{unique_name(REDIS_PREFIX)}:", client)
    try:
        yield ns
    finally:
        for batch in _batched(ns.keys(), 500):
            client.delete(*batch)
        client.close()


def _delete_stale_namespaces(client: Any) -> None:
    """Keys of namespaces older than STALE_AFTER_S: left by a test process that was killed."""
    now = int(time.time())
    stale = []
    for key in client.scan_iter(match=f"{REDIS_PREFIX}*", count=1000):
        try:
            created = int(key[len(REDIS_PREFIX) :].split(b"_", 1)[0])
        except ValueError:
            continue
        if now - created > STALE_AFTER_S:
            stale.append(key)
    for batch in _batched(stale, 500):
        client.delete(*batch)


def _batched(items: list[bytes], size: int) -> Iterator[list[bytes]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def cassandra_hosts_or_skip() -> list[str]:
    hosts = [h.strip() for h in os.environ.get("NFC_CASSANDRA_HOSTS", "").split(",") if h.strip()]
    if not hosts:
        pytest.skip("NFC_CASSANDRA_HOSTS is not set: no Cassandra server to test against here")
    return hosts


def _free_cluster_port() -> int:
    """A loopback port whose cluster bus port (port + 10000) is free too."""
    import random
    import socket

    for _ in range(200):
        port = random.randint(20_000, 45_000)  # nosec B311 - a port, not a secret
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10_000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


def _binary(name: str) -> str:
    import shutil

    found = shutil.which(name) or next(
        (p for p in (f"/usr/bin/{name}", f"/usr/local/bin/{name}") if os.path.exists(p)), None
    )
    if found is None:
        pytest.fail(
            f"{name} is not installed (Debian package redis-server); .ci/run installs it",
            pytrace=False,
        )
    return found


@contextmanager
def redis_cluster(masters: int = 3) -> Iterator[str]:
    """A real Redis Cluster of ``masters`` primaries on loopback ports, started for the caller and
    stopped (by PID) afterwards; yields the URL of one node."""
    import subprocess  # nosec B404 - starts redis-server, fixed arguments
    import tempfile

    server, cli = _binary("redis-server"), _binary("redis-cli")
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="nfc-cluster-") as directory:
        try:
            ports = []
            for _ in range(masters):
                port = _free_cluster_port()
                ports.append(port)
                processes.append(
                    subprocess.Popen(  # nosec B603
                        [server, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                         "--cluster-config-file", f"{directory}/nodes-{port}.conf", "--dir", directory,
                         "--save", "", "--appendonly", "no", "--cluster-node-timeout", "2000"],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )  # fmt: skip
                )
            deadline = time.monotonic() + 20
            for port in ports:
                while True:
                    try:
                        if redis.Redis(port=port, socket_timeout=1).ping():
                            break
                    except redis.exceptions.ConnectionError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.05)
            subprocess.run(  # nosec B603
                [cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
                 "--cluster-replicas", "0", "--cluster-yes"],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30,
            )  # fmt: skip
            while True:
                states = [redis.Redis(port=p).cluster("info").get("cluster_state") for p in ports]
                if all(s == "ok" for s in states):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Redis Cluster did not become ready: {states}")
                time.sleep(0.1)
            yield f"redis://127.0.0.1:{ports[0]}/0"
        finally:
            for process in processes:
                process.kill()
            for process in processes:
                process.wait(timeout=10)
