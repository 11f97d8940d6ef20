"""One reading of a "where is the data" string, for every service that takes one.

A PostgreSQL URL or libpq keyword/value DSN selects PostgreSQL; ``sqlite:///PATH`` or a path ending in
``.sqlite``/``.sqlite3``/``.db`` selects SQLite; any other path is kind ``path`` (SQLite for the queue and
the catalog, a CSV/Parquet file for viewing history). Anything that *looks* like a DSN but is not one is an error,
never a SQLite file with a strange name:

    >>> parse_store("postgresql://app@db:5432/app").kind
    'postgres'
    >>> parse_store("dbname=app").kind            # no host= needed: libpq defaults it
    'postgres'
    >>> parse_store("sqlite:///var/catalog.sqlite")
    Store(kind='sqlite', target='var/catalog.sqlite')
    >>> parse_store("out/catalog.sqlite")
    Store(kind='sqlite', target='out/catalog.sqlite')
    >>> parse_store("history.parquet").kind
    'path'
    >>> parse_store("dbnmae=app")
    Traceback (most recent call last):
    ...
    netflix_clone.platform.dsn.StoreSpecError: 'dbnmae=app' looks like a libpq DSN but 'dbnmae' is not a libpq ...
    >>> parse_store("redis://cache:6379/0")
    Traceback (most recent call last):
    ...
    netflix_clone.platform.dsn.StoreSpecError: 'redis://cache:6379/0' is a redis:// URL; expected a PostgreSQL DSN, ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from netflix_clone.platform.errors import UsageError
from netflix_clone.platform.redaction import redact_url

__all__ = ["Store", "StoreSpecError", "is_postgres", "parse_store"]

# libpq's connection keywords (PostgreSQL 16 docs, "Parameter Key Words").
LIBPQ_KEYWORDS = frozenset(
    """host hostaddr port dbname user password passfile channel_binding connect_timeout
    client_encoding options application_name fallback_application_name keepalives keepalives_idle
    keepalives_interval keepalives_count tcp_user_timeout replication gssencmode sslmode requiressl
    sslcompression sslcert sslkey sslpassword sslcertmode sslrootcert sslcrl sslcrldir sslsni
    requirepeer ssl_min_protocol_version ssl_max_protocol_version krbsrvname gsslib gssdelegation
    service target_session_attrs load_balance_hosts""".split()
)
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
_KEY = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


class StoreSpecError(UsageError):
    pass


@dataclass(frozen=True)
class Store:
    kind: Literal["postgres", "sqlite", "path"]
    target: str  # the DSN for PostgreSQL, else the file path

    @property
    def sqlite_path(self) -> str:
        """Where a SQLite-backed store (queue, catalog) keeps its file: any non-PostgreSQL store."""
        if self.kind == "postgres":
            raise StoreSpecError("a PostgreSQL DSN has no SQLite path")
        return self.target


def parse_store(spec: str) -> Store:
    text = spec.strip()
    if not text:
        raise StoreSpecError("empty store: expected a PostgreSQL DSN, sqlite:///PATH or a file path")
    scheme = _SCHEME.match(text)
    if scheme:
        name = scheme.group(1).lower()
        if name in ("postgres", "postgresql"):
            return Store("postgres", text)
        if name == "sqlite":
            path = text[len("sqlite:///") :] if text.startswith("sqlite:///") else ""
            if not path:
                raise StoreSpecError(f"{text!r}: write sqlite:///PATH (three slashes, then the path)")
            return Store("sqlite", path)
        raise StoreSpecError(
            f"{redact_url(text)!r} is a {name}:// URL; expected a PostgreSQL DSN, sqlite:///PATH or a file path"
        )
    key = _KEY.match(text)
    if key:
        keys = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*=", text)
        bad = [k for k in keys if k not in LIBPQ_KEYWORDS]
        if bad:
            raise StoreSpecError(
                f"{redact_url(text)!r} looks like a libpq DSN but {bad[0]!r} is not a libpq keyword "
                f"(use sqlite:///{text} for a file of that name)"
            )
        return Store("postgres", text)
    return Store("sqlite" if text.endswith(SQLITE_SUFFIXES) else "path", text)


def is_postgres(spec: str) -> bool:
    return parse_store(spec).kind == "postgres"
