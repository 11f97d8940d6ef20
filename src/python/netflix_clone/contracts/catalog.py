"""The catalog record: one published title as video-processor wrote it. Version 1.

video-processor upserts it after a ladder is published; recommendation-service reads it to know which
titles exist. ``job_key`` names the published outputs: a title re-processed with other settings gets
a new key, and its record points at the new ladder only once that ladder is fully published.
"""

from __future__ import annotations

import re
from typing import Optional

import msgspec

__all__ = [
    "CATALOG_COLUMNS",
    "CATALOG_TABLE",
    "POSTGRES_CATALOG_DDL",
    "SQLITE_CATALOG_DDL",
    "SCHEMA_VERSION",
    "TITLE_ID_MAX_LENGTH",
    "TITLE_ID_PATTERN",
    "CatalogRecord",
    "InvalidTitleId",
    "RenditionRecord",
    "check_title_id",
    "decode_catalog_record",
    "encode_catalog_record",
    "is_valid_title_id",
]

SCHEMA_VERSION = 1

# A title id names a directory and an S3 key segment (titles/<title_id>/<job key>/...), so it must
# be one safe path segment everywhere: ASCII letters and digits, with '.', '_' and '-' inside, never
# first (no "..", no hidden files, no leading "-" that a tool could take for an option), no '/' or
# '\\', no NUL or other control characters, at most 64 characters. The same rule applies to every
# id that becomes a path or a key (job keys are hex and pass it).
TITLE_ID_MAX_LENGTH = 64
TITLE_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class InvalidTitleId(ValueError):
    """The id cannot name a path segment safely. Permanent: the same id is always refused."""

    def __init__(self, title_id: object) -> None:
        self.title_id = title_id
        shown = repr(title_id)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(
            f"invalid title id {shown}: need 1-{TITLE_ID_MAX_LENGTH} characters of A-Z a-z 0-9 "
            "and '.', '_', '-' (not first)"
        )


def is_valid_title_id(title_id: object) -> bool:
    return isinstance(title_id, str) and TITLE_ID_PATTERN.fullmatch(title_id) is not None


def check_title_id(title_id: object) -> str:
    """``title_id`` itself if it is a safe path segment; InvalidTitleId otherwise."""
    if not is_valid_title_id(title_id):
        raise InvalidTitleId(title_id)
    return str(title_id)


class RenditionRecord(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    width: int
    height: int
    frame_rate: float
    codecs: str
    bandwidth: int  # peak bits/s, as in the master playlist's BANDWIDTH
    average_bandwidth: int
    playlist: str  # relative to the title's base location
    vmaf: Optional[float] = None
    psnr_y_db: Optional[float] = None
    ssim: Optional[float] = None


class CatalogRecord(msgspec.Struct, frozen=True, kw_only=True):
    title_id: str
    name: str
    duration_s: float
    location: str  # base URI of the published ladder (file:// or s3://)
    master_playlist: str  # relative to location
    poster: Optional[str]
    thumbnails_vtt: Optional[str]
    job_key: str
    renditions: tuple[RenditionRecord, ...]
    published_at: float  # epoch seconds
    width: int = 0  # source display size
    height: int = 0
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        check_title_id(self.title_id)
        if self.duration_s <= 0:
            raise ValueError(f"duration_s must be > 0, got {self.duration_s}")
        if not self.renditions:
            raise ValueError("a catalog record needs at least one rendition")
        if self.schema_version != SCHEMA_VERSION:
            raise ValueError(f"unsupported catalog schema_version {self.schema_version}")


# The catalog table, as every backend stores it (renditions as JSON).
CATALOG_TABLE = "catalog_titles"
CATALOG_COLUMNS = (
    "title_id",
    "name",
    "duration_s",
    "location",
    "master_playlist",
    "poster",
    "thumbnails_vtt",
    "job_key",
    "renditions",
    "published_at",
    "width",
    "height",
    "schema_version",
)

POSTGRES_CATALOG_DDL = """
CREATE TABLE IF NOT EXISTS catalog_titles (
    title_id        TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    duration_s      DOUBLE PRECISION NOT NULL,
    location        TEXT NOT NULL,
    master_playlist TEXT NOT NULL,
    poster          TEXT,
    thumbnails_vtt  TEXT,
    job_key         TEXT NOT NULL,
    renditions      JSONB NOT NULL,
    published_at    DOUBLE PRECISION NOT NULL,
    width           INTEGER NOT NULL,
    height          INTEGER NOT NULL,
    schema_version  INTEGER NOT NULL
)
"""


SQLITE_CATALOG_DDL = POSTGRES_CATALOG_DDL.replace("JSONB", "TEXT").replace("DOUBLE PRECISION", "REAL")

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(CatalogRecord)


def encode_catalog_record(record: CatalogRecord) -> bytes:
    return _encoder.encode(record)


def decode_catalog_record(raw: bytes) -> CatalogRecord:
    return _decoder.decode(raw)
