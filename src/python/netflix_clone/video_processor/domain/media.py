"""What a probe found in an upload, and the rules that decide whether it can be processed.

The probe adapter fills :class:`MediaInfo`; :func:`validate` is pure so every rejection rule is
unit-tested without media files. Rejections carry a machine-readable ``reason`` (for job states and
dashboards) and a sentence for people.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from netflix_clone.video_processor.errors import InvalidMedia

__all__ = [
    "AudioStream",
    "InvalidMedia",
    "MediaInfo",
    "MediaLimits",
    "VideoStream",
    "validate",
]


@dataclass(frozen=True)
class VideoStream:
    codec: str
    width: int  # coded width, before rotation
    height: int
    frame_rate: float
    pix_fmt: Optional[str] = None
    rotation: int = 0  # display-matrix rotation in degrees (0/90/180/270); ffmpeg applies it on decode
    bit_rate: Optional[int] = None

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as shown to viewers: a phone's portrait clip is stored landscape + 90°."""
        if self.rotation % 180 == 90:
            return self.height, self.width
        return self.width, self.height


@dataclass(frozen=True)
class AudioStream:
    codec: str
    channels: int
    sample_rate: int
    language: Optional[str] = None


@dataclass(frozen=True)
class MediaInfo:
    path: str
    size_bytes: int
    container: str
    duration_s: float
    video: Optional[VideoStream]
    audio: tuple[AudioStream, ...] = ()
    # Seconds of video actually present in the file, from its last packet; a file cut short in
    # transit declares more than it holds.
    video_end_s: Optional[float] = None
    # Average video bit rate from the packets actually present (bytes x 8 / seconds), in kbit/s:
    # what the source spends on its picture, the ceiling for every rung.
    video_kbps: Optional[float] = None

    def as_dict(self) -> dict[str, object]:
        video = None
        if self.video is not None:
            width, height = self.video.display_size
            video = {
                "codec": self.video.codec,
                "width": width,
                "height": height,
                "coded_width": self.video.width,
                "coded_height": self.video.height,
                "frame_rate": round(self.video.frame_rate, 3),
                "rotation": self.video.rotation,
                "pix_fmt": self.video.pix_fmt,
                "bit_rate": self.video.bit_rate,
                "measured_kbps": None if self.video_kbps is None else round(self.video_kbps, 1),
            }
        return {
            "path": self.path,
            "size_bytes": self.size_bytes,
            "container": self.container,
            "duration_s": round(self.duration_s, 3),
            "video": video,
            "audio": [
                {
                    "codec": a.codec,
                    "channels": a.channels,
                    "sample_rate": a.sample_rate,
                    "language": a.language,
                }
                for a in self.audio
            ],
        }


@dataclass(frozen=True)
class MediaLimits:
    """Operator-configurable bounds (``NFC_VIDEO_*`` settings)."""

    min_dimension: int = 16
    max_width: int = 7680
    max_height: int = 4320
    min_duration_s: float = 0.5
    max_duration_s: float = 6 * 3600.0
    min_frame_rate: float = 1.0
    max_frame_rate: float = 120.0
    max_size_bytes: int = 50 * 1024**3
    # Fraction of the declared duration that may be missing at the end before the file counts as
    # truncated (muxers round durations; a few frames short is normal).
    truncation_tolerance: float = 0.05
    video_codecs: frozenset[str] = field(
        default_factory=lambda: frozenset(
            {
                "h264",
                "hevc",
                "vp8",
                "vp9",
                "av1",
                "mpeg4",
                "mpeg2video",
                "prores",
                "dnxhd",
                "mjpeg",
                "ffv1",
            }
        )
    )


def validate(info: MediaInfo, limits: MediaLimits) -> None:
    """Raise :class:`InvalidMedia` for the first rule ``info`` breaks; return quietly otherwise."""
    if info.size_bytes > limits.max_size_bytes:
        raise InvalidMedia(
            "file_too_large",
            f"{info.size_bytes} bytes exceeds the limit of {limits.max_size_bytes}",
        )
    video = info.video
    if video is None:
        kinds = "audio only" if info.audio else "no audio or video streams"
        raise InvalidMedia("no_video_stream", f"{info.container} file has {kinds}")
    if video.codec not in limits.video_codecs:
        allowed = ", ".join(sorted(limits.video_codecs))
        raise InvalidMedia("unsupported_codec", f"video codec {video.codec!r} is not one of: {allowed}")
    width, height = video.display_size
    if (
        min(width, height) < limits.min_dimension
        or width > max(limits.max_width, limits.max_height)
        or height > max(limits.max_width, limits.max_height)
        or width * height > limits.max_width * limits.max_height
    ):
        raise InvalidMedia(
            "dimensions_out_of_range",
            f"{width}x{height} is outside {limits.min_dimension}..{limits.max_width}x{limits.max_height}",
        )
    if not limits.min_duration_s <= info.duration_s <= limits.max_duration_s:
        raise InvalidMedia(
            "duration_out_of_range",
            f"{info.duration_s:.3f} s is outside {limits.min_duration_s}..{limits.max_duration_s} s",
        )
    if not limits.min_frame_rate <= video.frame_rate <= limits.max_frame_rate:
        raise InvalidMedia(
            "frame_rate_out_of_range",
            f"{video.frame_rate:.3f} fps is outside {limits.min_frame_rate}..{limits.max_frame_rate}",
        )
    if info.video_end_s is not None:
        missing = info.duration_s - info.video_end_s
        if missing > max(limits.truncation_tolerance * info.duration_s, 2.0 / video.frame_rate):
            raise InvalidMedia(
                "truncated",
                f"declares {info.duration_s:.2f} s but its video stops at {info.video_end_s:.2f} s",
            )
