from netflix_clone_testing.fixtures import cassandra_hosts, pg_dsn, redis_ns  # noqa: F401
