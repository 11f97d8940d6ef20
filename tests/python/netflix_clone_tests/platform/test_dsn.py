"""One reading of a store argument: a DSN is PostgreSQL, a path is a file, a near-miss is an error."""

from __future__ import annotations

import pytest

from netflix_clone.platform.dsn import Store, StoreSpecError, parse_store
from netflix_clone.platform.errors import ExitCode


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        # pragma: allowlist nextline secret
        ("postgresql://app:pw@db:5432/app", Store("postgres", "postgresql://app:pw@db:5432/app")),
        ("postgres://db/app", Store("postgres", "postgres://db/app")),
        ("POSTGRESQL://db/app", Store("postgres", "POSTGRESQL://db/app")),
        # The video queue used to need host= and made a SQLite file named "dbname=app" without it.
        ("dbname=app", Store("postgres", "dbname=app")),
        (
            "host=127.0.0.1 port=5432 dbname=app user=postgres",
            Store("postgres", "host=127.0.0.1 port=5432 dbname=app user=postgres"),
        ),
        ("  dbname = app  sslmode=require", Store("postgres", "dbname = app  sslmode=require")),
        ("sqlite:///var/q.sqlite", Store("sqlite", "var/q.sqlite")),
        ("sqlite:////abs/q.db", Store("sqlite", "/abs/q.db")),
        ("out/catalog.sqlite", Store("sqlite", "out/catalog.sqlite")),
        ("history.sqlite3", Store("sqlite", "history.sqlite3")),
        ("history.parquet", Store("path", "history.parquet")),
        ("var/queue", Store("path", "var/queue")),
    ],
)
def test_store_kinds(spec: str, expected: Store) -> None:
    assert parse_store(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty store"),
        ("dbnmae=app", "'dbnmae' is not a libpq keyword"),
        ("host=db databse=app", "'databse' is not a libpq keyword"),
        ("redis://cache:6379/0", "is a redis:// URL"),
        ("sqlite://relative.db", "three slashes"),
        ("mysql://root:hunter22@db/app", "is a mysql:// URL"),  # pragma: allowlist secret
    ],
)
def test_near_misses_are_usage_errors(spec: str, message: str) -> None:
    with pytest.raises(StoreSpecError, match=message) as caught:
        parse_store(spec)
    assert caught.value.exit_code == ExitCode.USAGE
    assert "hunter22" not in str(caught.value)  # a password in a wrong URL is still a password


def test_sqlite_path_refuses_postgres() -> None:
    assert parse_store("var/queue").sqlite_path == "var/queue"
    with pytest.raises(StoreSpecError):
        _ = parse_store("dbname=app").sqlite_path
