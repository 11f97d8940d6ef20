"""The viewing-history record: one closed playback session of one title by one user.

analytics-consumer writes it when a session closes; recommendation-service trains on it. Version 1.
Backends carry exactly these fields: CSV/Parquet/JSON-lines columns of the same names, and the
PostgreSQL table below.
"""

from __future__ import annotations

from typing import Any, Optional

import msgspec

__all__ = [
    "SCHEMA_VERSION",
    "POSTGRES_DDL",
    "POSTGRES_COLUMNS",
    "ViewingRecord",
    "decode_record",
]

SCHEMA_VERSION = 1


class ViewingRecord(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    title_id: str
    session_id: str
    started_at: float  # epoch seconds (UTC) of the play request
    watched_seconds: float  # content time actually played, stalls and pauses excluded
    completion: float  # furthest position / title duration, in [0, 1]
    qoe_score: Optional[float] = None  # 0-100, see analytics-consumer's QoE model
    device: Optional[str] = None
    country: Optional[str] = None
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if not self.user_id or not self.title_id:
            raise ValueError("user_id and title_id must be non-empty")
        if not 0.0 <= self.completion <= 1.0:
            raise ValueError(f"completion must be in [0, 1], got {self.completion}")
        if self.watched_seconds < 0:
            raise ValueError(f"watched_seconds must be >= 0, got {self.watched_seconds}")
        if self.schema_version != SCHEMA_VERSION:
            raise ValueError(f"unsupported viewing-history schema_version {self.schema_version}")

    def as_row(self) -> tuple[Any, ...]:
        """The record's values in POSTGRES_COLUMNS order (the order every table of it uses)."""
        return tuple(getattr(self, column) for column in POSTGRES_COLUMNS)


_decoder = msgspec.json.Decoder(ViewingRecord)


def decode_record(raw: bytes) -> ViewingRecord:
    """Decode one JSON record; raises msgspec.ValidationError or ValueError with the reason."""
    return _decoder.decode(raw)


POSTGRES_COLUMNS = (
    "session_id",
    "user_id",
    "title_id",
    "started_at",
    "watched_seconds",
    "completion",
    "qoe_score",
    "device",
    "country",
    "schema_version",
)

# session_id is the key: a redelivered session upserts the same row instead of counting twice.
POSTGRES_DDL = """
CREATE TABLE IF NOT EXISTS viewing_history (
    session_id      text PRIMARY KEY,
    user_id         text NOT NULL,
    title_id        text NOT NULL,
    started_at      timestamptz NOT NULL,
    watched_seconds double precision NOT NULL CHECK (watched_seconds >= 0),
    completion      double precision NOT NULL CHECK (completion >= 0 AND completion <= 1),
    qoe_score       double precision,
    device          text,
    country         text,
    schema_version  integer NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS viewing_history_user_started ON viewing_history (user_id, started_at);
CREATE INDEX IF NOT EXISTS viewing_history_started ON viewing_history (started_at);
"""
