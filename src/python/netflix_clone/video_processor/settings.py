"""Every environment variable video-processor reads, with its default and meaning (the README's table).

Each command-line flag that has a variable defaults from it (``--help`` names both). The job queue and
the catalog live in the shared PostgreSQL when ``NFC_POSTGRES_DSN`` is set (``--queue``/``--catalog``
override it); otherwise in SQLite files under the output directory. Variables owned by others and
read where they are used: ``AWS_*`` credentials, ``AWS_DEFAULT_REGION`` and ``AWS_ENDPOINT_URL``
(boto3, for ``--s3-bucket``).

    >>> from netflix_clone.platform.settings import SettingsError, load_settings
    >>> s = load_settings(VideoSettings, {"NFC_VIDEO_CODEC": "hevc", "NFC_POSTGRES_DSN": "dbname=app"})
    >>> (s.codec, s.segment_seconds, s.postgres_dsn)
    ('hevc', 6, 'dbname=app')
    >>> try:
    ...     load_settings(VideoSettings, {"NFC_VIDEO_OPS_PORT": "eighty"})
    ... except SettingsError as exc:
    ...     print(exc.problems[0])
    NFC_VIDEO_OPS_PORT: Input should be a valid integer, unable to parse string as an integer (got 'eighty')
"""

from __future__ import annotations

from typing import Literal, Optional

from netflix_clone.platform.settings import Field, LogLevel, ServiceSettings, SettingsConfigDict, shared

__all__ = ["DEFAULT_OUTPUT", "VideoSettings"]

DEFAULT_OUTPUT = "var/video"


class VideoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NFC_VIDEO_")

    # The worker narrates claims and outcomes at INFO: that is its log.
    log_level: LogLevel = shared(
        "NFC_LOG_LEVEL", "INFO", "log level (DEBUG, INFO, WARNING, ERROR); JSON lines on stderr"
    )
    postgres_dsn: Optional[str] = shared(
        "NFC_POSTGRES_DSN",
        None,
        "PostgreSQL (URL or libpq key=value DSN) holding the job queue and the catalog; unset: SQLite files "
        "(OUTPUT_DIR/catalog.sqlite, var/video/jobs.sqlite)",
    )
    codec: Literal["h264", "hevc", "av1"] = Field("h264", description="video codec of the ladder")
    segment_seconds: int = Field(6, ge=1, le=60, description="HLS segment length in seconds")
    segment_format: Literal["ts", "fmp4"] = Field("ts", description="HLS segments: MPEG-TS or fragmented MP4")
    preset: str = Field("fast", description="x264/x265 preset (AV1 rungs always use SVT-AV1 preset 10)")
    output_dir: str = Field(DEFAULT_OUTPUT, description="where titles are published when no S3 bucket is set")
    s3_bucket: Optional[str] = Field(None, description="publish to this S3 bucket instead of OUTPUT_DIR")
    s3_prefix: str = Field("", description="key prefix inside the S3 bucket")
    ops_host: str = Field("127.0.0.1", description="worker: address of /healthz /readyz /metrics")
    ops_port: int = Field(0, ge=0, le=65535, description="worker: port of /healthz /readyz /metrics (0: not served)")
    ffmpeg: Optional[str] = Field(
        None, description="ffmpeg binary (unset: the one bundled in the imageio-ffmpeg wheel)"
    )
