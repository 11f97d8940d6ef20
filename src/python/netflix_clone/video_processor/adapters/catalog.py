"""Catalog stores: SQLite by default, PostgreSQL when configured. Rows are CatalogRecord, upserted."""

from __future__ import annotations

import json
import os
import sqlite3
from typing import Any, Optional, Protocol

import msgspec

from netflix_clone.contracts.catalog import CATALOG_COLUMNS as _COLUMNS
from netflix_clone.contracts.catalog import POSTGRES_CATALOG_DDL, SQLITE_CATALOG_DDL, CatalogRecord, RenditionRecord
from netflix_clone.platform.dsn import parse_store

__all__ = ["CatalogStore", "PostgresCatalog", "SqliteCatalog", "open_catalog"]


class CatalogStore(Protocol):
    def upsert(self, record: CatalogRecord) -> None:
        ...

    def get(self, title_id: str) -> Optional[CatalogRecord]:
        ...

    def all(self) -> list[CatalogRecord]:
        ...


def _row(record: CatalogRecord) -> tuple[Any, ...]:
    values = msgspec.structs.asdict(record)
    values["renditions"] = json.dumps([msgspec.structs.asdict(r) for r in record.renditions])
    return tuple(values[c] for c in _COLUMNS)


def _record(row: tuple[Any, ...]) -> CatalogRecord:
    values = dict(zip(_COLUMNS, row))
    renditions = values["renditions"]
    if isinstance(renditions, str):
        renditions = json.loads(renditions)
    values["renditions"] = tuple(RenditionRecord(**r) for r in renditions)
    return CatalogRecord(**values)


class SqliteCatalog:
    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.path = path
        with self._connect() as db:
            db.execute(SQLITE_CATALOG_DDL)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def upsert(self, record: CatalogRecord) -> None:
        placeholders = ",".join("?" for _ in _COLUMNS)
        updates = ",".join(f"{c}=excluded.{c}" for c in _COLUMNS[1:])
        with self._connect() as db:
            db.execute(
                f"INSERT INTO catalog_titles ({','.join(_COLUMNS)}) "  # nosec B608 - fixed column names
                f"VALUES ({placeholders}) "
                f"ON CONFLICT(title_id) DO UPDATE SET {updates}",
                _row(record),
            )

    def get(self, title_id: str) -> Optional[CatalogRecord]:
        with self._connect() as db:
            row = db.execute(
                f"SELECT {','.join(_COLUMNS)} FROM catalog_titles WHERE title_id = ?",
                (title_id,),  # nosec B608
            ).fetchone()
        return _record(row) if row else None

    def all(self) -> list[CatalogRecord]:
        with self._connect() as db:
            rows = db.execute(
                f"SELECT {','.join(_COLUMNS)} FROM catalog_titles ORDER BY title_id"
            ).fetchall()  # nosec B608
        return [_record(r) for r in rows]


class PostgresCatalog:
    def __init__(self, dsn: str) -> None:
        from netflix_clone.platform.connections import connect_postgres

        self.conn = connect_postgres(dsn)
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            cur.execute(POSTGRES_CATALOG_DDL)

    def upsert(self, record: CatalogRecord) -> None:
        placeholders = ",".join("%s" for _ in _COLUMNS)
        updates = ",".join(f"{c}=EXCLUDED.{c}" for c in _COLUMNS[1:])
        with self.conn.cursor() as cur:
            cur.execute(
                f"INSERT INTO catalog_titles ({','.join(_COLUMNS)}) "  # nosec B608 - fixed column names
                f"VALUES ({placeholders}) "
                f"ON CONFLICT (title_id) DO UPDATE SET {updates}",
                _row(record),
            )

    def get(self, title_id: str) -> Optional[CatalogRecord]:
        with self.conn.cursor() as cur:
            cur.execute(
                f"SELECT {','.join(_COLUMNS)} FROM catalog_titles WHERE title_id = %s", (title_id,)
            )  # nosec B608
            row = cur.fetchone()
        return _record(row) if row else None

    def all(self) -> list[CatalogRecord]:
        with self.conn.cursor() as cur:
            cur.execute(f"SELECT {','.join(_COLUMNS)} FROM catalog_titles ORDER BY title_id")  # nosec B608
            return [_record(r) for r in cur.fetchall()]

    def close(self) -> None:
        self.conn.close()


def open_catalog(spec: str) -> Any:
    """The catalog ``spec`` names (:func:`netflix_clone.platform.dsn.parse_store`): PostgreSQL for a URL or
    libpq DSN, else a SQLite file (``sqlite:///PATH`` or a path)."""
    store = parse_store(spec)
    if store.kind == "postgres":
        return PostgresCatalog(store.target)
    return SqliteCatalog(store.sqlite_path)
