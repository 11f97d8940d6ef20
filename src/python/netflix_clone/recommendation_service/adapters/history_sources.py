"""Viewing history in columnar form, from CSV, Parquet or the PostgreSQL table of the shared contract.

Columns follow `netflix_clone.contracts.viewing_history`; `started_at` may be epoch seconds or an
ISO-8601 timestamp in files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from netflix_clone.contracts.viewing_history import POSTGRES_DDL
from netflix_clone.platform.dsn import parse_store
from netflix_clone.recommendation_service.errors import HistoryError

__all__ = [
    "HistoryColumns",
    "HistoryError",
    "read_history",
    "read_history_file",
    "read_history_postgres",
    "read_history_sqlite",
]

REQUIRED = ("user_id", "title_id", "completion", "started_at")


@dataclass(frozen=True)
class HistoryColumns:
    user_id: npt.NDArray[np.str_]
    title_id: npt.NDArray[np.str_]
    completion: npt.NDArray[np.float64]
    started_at: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.user_id.size)


def read_history(source: str) -> HistoryColumns:
    """`postgresql://…` or a libpq DSN reads the table; `sqlite:///PATH` or a `.sqlite`/`.db` file reads
    analytics-consumer's embedded database; anything else is a CSV or Parquet path (one reading of the
    string for every service: :func:`netflix_clone.platform.dsn.parse_store`)."""
    store = parse_store(source)
    if store.kind == "postgres":
        return read_history_postgres(store.target)
    if store.kind == "sqlite":
        return read_history_sqlite(Path(store.target))
    return read_history_file(Path(store.target))


def read_history_sqlite(path: Path) -> HistoryColumns:
    """The `viewing_history` table of the contract, as analytics-consumer's SQLite sink writes it."""
    import sqlite3

    if not path.exists():
        raise HistoryError(f"viewing history database {path} does not exist")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT user_id, title_id, completion, started_at FROM viewing_history").fetchall()
    except sqlite3.Error as exc:
        raise HistoryError(f"cannot read viewing_history from {path}: {exc}") from exc
    finally:
        db.close()
    if not rows:
        return _columns(np.array([]), np.array([]), np.array([]), np.array([]), str(path))
    users, titles, completion, started = zip(*rows)
    return _columns(
        np.array(users),
        np.array(titles),
        np.array(completion, dtype=np.float64),
        np.array(started, dtype=np.float64),
        str(path),
    )


def read_history_file(path: Path) -> HistoryColumns:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if not path.exists():
        raise HistoryError(f"viewing history file {path} does not exist")
    try:
        if path.suffix == ".parquet":
            table = pq.read_table(path)
        else:
            table = pacsv.read_csv(
                path,
                convert_options=pacsv.ConvertOptions(
                    column_types={
                        "user_id": pa.string(),
                        "title_id": pa.string(),
                        "completion": pa.float64(),
                    }
                ),
            )
    except (pa.ArrowInvalid, OSError) as exc:
        raise HistoryError(f"cannot read viewing history {path}: {exc}") from exc
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise HistoryError(f"{path} lacks required column(s) {missing}; it has {table.column_names}")
    started = table.column("started_at")
    if pa.types.is_timestamp(started.type):
        started = pc.divide(pc.cast(pc.cast(started, pa.timestamp("us", tz="UTC")), pa.int64()), 1_000_000.0)
    elif pa.types.is_string(started.type):
        started = pc.divide(
            pc.cast(
                pc.cast(pc.strptime(started, "%Y-%m-%dT%H:%M:%S", "us"), pa.timestamp("us")),
                pa.int64(),
            ),
            1_000_000.0,
        )
    return _columns(
        table.column("user_id").to_numpy(zero_copy_only=False),
        table.column("title_id").to_numpy(zero_copy_only=False),
        table.column("completion").to_numpy(zero_copy_only=False),
        np.asarray(started.to_numpy(zero_copy_only=False), dtype=np.float64),
        str(path),
    )


def read_history_postgres(dsn: str, *, since_epoch: float = 0.0) -> HistoryColumns:
    from netflix_clone.platform.connections import connect_postgres

    conn = connect_postgres(dsn, application_name="recommendation-service")
    try:
        with conn.cursor() as cur:
            cur.execute(POSTGRES_DDL)
            cur.execute(
                "SELECT user_id, title_id, completion, extract(epoch FROM started_at) FROM viewing_history "
                "WHERE started_at >= to_timestamp(%s)",
                (since_epoch,),
            )
            rows = cur.fetchall()
        conn.commit()
    finally:
        conn.close()
    if not rows:
        return _columns(np.array([]), np.array([]), np.array([]), np.array([]), "viewing_history")
    users, titles, completion, started = zip(*rows)
    return _columns(
        np.array(users),
        np.array(titles),
        np.array(completion),
        np.array(started),
        "viewing_history",
    )


def _columns(users: Any, titles: Any, completion: Any, started: Any, where: str) -> HistoryColumns:
    comp = np.asarray(completion, dtype=np.float64)
    if comp.size and (np.isnan(comp).any() or comp.min() < 0 or comp.max() > 1):
        raise HistoryError(f"{where}: completion must be in [0, 1]")
    return HistoryColumns(
        np.asarray(users).astype(str),
        np.asarray(titles).astype(str),
        comp,
        np.asarray(started, dtype=np.float64),
    )
