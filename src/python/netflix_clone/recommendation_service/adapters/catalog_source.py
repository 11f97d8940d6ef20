"""The titles video-processor published (the catalog contract), to recommend only what can be played."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from netflix_clone.contracts.catalog import CATALOG_TABLE
from netflix_clone.platform.dsn import parse_store
from netflix_clone.recommendation_service.adapters.history_sources import HistoryColumns
from netflix_clone.recommendation_service.errors import HistoryError

__all__ = ["read_catalog", "restrict_to_catalog"]

_SELECT = f"SELECT title_id, name FROM {CATALOG_TABLE}"  # nosec B608 - the contract's table name


def read_catalog(spec: str) -> dict[str, str]:
    """title_id -> name from the `catalog_titles` table (SQLite path or PostgreSQL DSN)."""
    store = parse_store(spec)
    if store.kind == "postgres":
        from netflix_clone.platform.connections import connect_postgres

        conn = connect_postgres(store.target, application_name="recommendation-service")
        try:
            with conn.cursor() as cur:
                cur.execute(_SELECT)
                rows = cur.fetchall()
        finally:
            conn.close()
    else:
        path = Path(store.target)
        if not path.exists():
            raise HistoryError(f"catalog database {path} does not exist")
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = db.execute(_SELECT).fetchall()
        except sqlite3.Error as exc:
            raise HistoryError(f"cannot read catalog_titles from {path}: {exc}") from exc
        finally:
            db.close()
    return {str(t): str(n) for t, n in rows}


def restrict_to_catalog(history: HistoryColumns, titles: set[str]) -> tuple[HistoryColumns, int]:
    """History rows of published titles only; returns (rows kept, rows dropped)."""
    keep = np.isin(history.title_id, np.array(sorted(titles), dtype=history.title_id.dtype))
    kept = HistoryColumns(
        history.user_id[keep],
        history.title_id[keep],
        history.completion[keep],
        history.started_at[keep],
    )
    return kept, int((~keep).sum())
