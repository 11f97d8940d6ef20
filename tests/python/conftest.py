# Fixtures every test module may use; importing them here is how pytest finds them.
from netflix_clone_testing.fixtures import (  # noqa: F401  # pylint: disable=unused-import
    aws_endpoint,
    cassandra_hosts,
    pg_dsn,
    redis_cluster_url,
    redis_ns,
)
