"""Every exception video-processor raises on purpose, on the platform's exit-code table.

``video-processor`` (through :func:`netflix_clone.platform.cli.run`) prints any of these as one line
and exits with its code, never with a traceback:

==========================  ====  ============================================================
class                       exit  meaning
==========================  ====  ============================================================
:class:`InvalidMedia`       2     the upload cannot be processed (permanent for those bytes)
:class:`LadderError`        2     no ladder fits the requested codec / segment format / limits
:class:`PlanError`          1     per-title trial encodes gave no usable convex hull
:class:`LevelError`         1     the stream exceeds the highest level of its standard
:class:`BitstreamError`     1     an encoded stream does not carry the configuration it should
:class:`PlaylistError`      1     an HLS playlist that breaks the rules (written or read)
:class:`FfmpegError`        1     ffmpeg failed or timed out (``detail``: its last lines)
:class:`PublishError`       1     the output could not be published (or a key left its prefix)
==========================  ====  ============================================================

Backends the CLI cannot reach raise :class:`netflix_clone.platform.errors.BackendUnavailable` (exit 1)
and bad queue/catalog strings :class:`netflix_clone.platform.dsn.StoreSpecError` (exit 2).

    >>> exc = InvalidMedia("empty_file", "0 bytes")
    >>> (str(exc), int(exc.exit_code), isinstance(exc, ValueError))
    ('empty_file: 0 bytes', 2, True)
    >>> int(FfmpegError("ffmpeg exited 1", "Invalid data found").exit_code)
    1
"""

from __future__ import annotations

from netflix_clone.platform.errors import ExitCode, PlatformError, UsageError

__all__ = [
    "BitstreamError",
    "FfmpegError",
    "InvalidMedia",
    "LadderError",
    "LevelError",
    "PlanError",
    "PlaylistError",
    "PublishError",
    "Rejected",
    "VideoError",
]


class VideoError(PlatformError):
    """Base of video-processor's expected failures (exit 1 unless a subclass says otherwise)."""

    exit_code = ExitCode.FAILED


class Rejected(VideoError, UsageError):
    """The input or the requested settings were refused before anything was written (exit 2)."""

    exit_code = ExitCode.USAGE


class InvalidMedia(Rejected, ValueError):
    """The upload cannot be processed. Permanent: retrying the same bytes gives the same answer."""

    REASONS = (
        "empty_file",
        "truncated",
        "not_a_video",
        "no_video_stream",
        "unsupported_codec",
        "dimensions_out_of_range",
        "duration_out_of_range",
        "frame_rate_out_of_range",
        "file_too_large",
    )

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown rejection reason {reason!r}")
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


class LadderError(Rejected, ValueError):
    """No ladder can be built for the requested codec, segment format or limits."""


class PlanError(VideoError, ValueError):
    """A per-title plan could not be made from the trial encodes."""


class LevelError(VideoError, ValueError):
    """The stream exceeds the highest level of the standard."""


class BitstreamError(VideoError, ValueError):
    """An encoded stream's configuration record is missing, unreadable or not the one asked for."""


class PlaylistError(VideoError, ValueError):
    """An HLS playlist breaks the rules (RFC 8216) the player relies on."""


class FfmpegError(VideoError, RuntimeError):
    """ffmpeg failed or timed out; ``detail`` holds the last lines it printed."""

    def __init__(self, message: str, detail: str = "", timed_out: bool = False) -> None:
        self.detail = detail
        self.timed_out = timed_out
        super().__init__(f"{message}: {detail}" if detail else message)


class PublishError(VideoError, RuntimeError):
    """Publishing failed, or a key/path would have left the title's prefix."""
