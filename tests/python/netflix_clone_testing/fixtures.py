"""pytest fixtures over `backends`; conftest.py re-exports them to every test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netflix_clone_testing.backends import (
    RedisNamespace,
    cassandra_hosts_or_skip,
    isolated_postgres_database,
    isolated_redis_namespace,
)


@pytest.fixture(scope="module")
def pg_dsn() -> Iterator[str]:
    """DSN of a PostgreSQL database private to this test module."""
    with isolated_postgres_database() as dsn:
        yield dsn


@pytest.fixture(scope="module")
def redis_ns() -> Iterator[RedisNamespace]:
    """A Redis key prefix private to this test module."""
    with isolated_redis_namespace() as ns:
        yield ns


@pytest.fixture(scope="module")
def redis_cluster_url() -> Iterator[str]:
    """A real 3-primary Redis Cluster on loopback ports, private to this test module."""
    from netflix_clone_testing.backends import redis_cluster

    with redis_cluster() as url:
        yield url


@pytest.fixture(scope="session")
def cassandra_hosts() -> list[str]:
    return cassandra_hosts_or_skip()


@pytest.fixture(scope="module")
def aws_endpoint() -> Iterator[str]:
    """URL of a moto server private to this test module; boto3 clients use it via AWS_ENDPOINT_URL."""
    from netflix_clone_testing.aws import moto_endpoint

    with moto_endpoint() as url:
        yield url
