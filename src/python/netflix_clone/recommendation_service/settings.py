"""Every environment variable recommendation-service reads, with its default and meaning (README table).

Service settings are ``NFC_RECO_<FIELD>``; the shared ones keep one name in every service
(``NFC_LOG_LEVEL``, ``NFC_REDIS_URL``). Each command-line flag defaults from here, so ``--help`` names the
variable behind it. Variables owned by others and read where they are used: ``AWS_*`` and
``AWS_ENDPOINT_URL`` (boto3, for an ``s3://`` registry).

    >>> s = load_settings(RecoSettings, {"NFC_RECO_PORT": "9000", "NFC_REDIS_URL": "redis://cache:6379/0"})
    >>> (s.port, s.redis_url, s.model_dir)
    (9000, 'redis://cache:6379/0', 'var/models')
    >>> try:
    ...     load_settings(RecoSettings, {"NFC_RECO_PORT": "eighty"})
    ... except SettingsError as exc:
    ...     print(exc.problems[0])
    NFC_RECO_PORT: Input should be a valid integer, unable to parse string as an integer (got 'eighty')
"""

from __future__ import annotations

from typing import Literal, Optional

from netflix_clone.platform.settings import (
    Field,
    ServiceSettings,
    SettingsConfigDict,
    SettingsError,
    load_settings,
    shared,
)

__all__ = ["RecoSettings", "SettingsError", "load_settings"]


class RecoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NFC_RECO_")

    # Where models live.
    model_dir: str = Field(
        "var/models", min_length=1, description="local model root (CURRENT + one directory per version)"
    )
    model_uri: Optional[str] = Field(
        None, description="model registry: s3://bucket/prefix or a local model root (wins over NFC_RECO_MODEL_DIR)"
    )
    model_cache_dir: Optional[str] = Field(
        None, description="where versions read from S3 are kept (unset: a directory under the temp dir)"
    )
    # Training.
    publish_uri: Optional[str] = Field(
        None, description="train: also upload the version to s3://bucket/prefix and point its CURRENT at it"
    )
    catalog: Optional[str] = Field(
        None,
        description="train: video-processor's catalog (SQLite path or PostgreSQL DSN); train on published titles only",
    )
    tune_budget_s: float = Field(120.0, ge=0, description="train/evaluate: seconds the parameter search may take")
    # Serving.
    host: str = Field("127.0.0.1", min_length=1, description="serve: address to listen on")
    port: int = Field(8000, ge=1, le=65535, description="serve: HTTP port")
    workers: int = Field(
        0, ge=0, description="serve: worker processes sharing the port and the memory-mapped model (0: the CPUs)"
    )
    redis_url: Optional[str] = shared(
        "NFC_REDIS_URL",
        None,
        "Redis of the top-N cache (serve: unset disables the cache; warm-cache: unset is redis://127.0.0.1:6379/0)",
    )
    redis_timeout_s: float = Field(
        0.25, gt=0, description="serve: seconds a cache call may take before the list is computed uncached"
    )
    cache_ttl_s: int = Field(3600, ge=1, description="seconds a cached top-N list lives")
    cache_prefix: str = Field("reco:", description="key prefix of the top-N cache")
    cold_start: Literal["popularity", "trending"] = Field(
        "popularity", description="serve: what users without history get (popularity or trending)"
    )
    reload_interval_s: float = Field(5.0, gt=0, description="serve: seconds between checks of CURRENT for a new model")
    max_body_bytes: int = Field(1 << 20, ge=1, description="serve: larger request bodies get 413 before they are read")
    prometheus_multiproc_dir: Optional[str] = shared(
        "PROMETHEUS_MULTIPROC_DIR",
        None,
        "serve: prometheus_client's multiprocess directory (unset: a private one per server with --workers > 1)",
    )
