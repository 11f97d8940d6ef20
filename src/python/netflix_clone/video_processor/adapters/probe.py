"""Probing uploads with PyAV (FFmpeg's libraries in-process): streams, rotation, and truncation."""

from __future__ import annotations

import os
from fractions import Fraction
from typing import Any, Optional

import av

from netflix_clone.video_processor.domain.media import AudioStream, InvalidMedia, MediaInfo, VideoStream

__all__ = ["probe"]


def _rotation(container: Any, stream: Any) -> int:
    """Display rotation in degrees (0/90/180/270) from the display matrix, via the first decoded frame.

    ffmpeg applies it while decoding (autorotate), so ladders are planned on the displayed size.
    """
    try:
        for frame in container.decode(stream):
            return int(round(float(getattr(frame, "rotation", 0) or 0))) % 360
    except (av.error.FFmpegError, TypeError, ValueError):
        return 0
    return 0


def _codec_name(ctx: Any) -> str:
    """The format's codec ("av1"), not the decoder FFmpeg picked for it ("libdav1d")."""
    return str(getattr(ctx.codec, "canonical_name", None) or ctx.name)


def _is_cover_art(stream: Any) -> bool:
    try:
        return bool(stream.disposition & av.stream.Disposition.attached_pic)
    except AttributeError:
        return False


def _frame_rate(stream: Any) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            value = float(Fraction(rate))
            if 0 < value < 10_000:
                return value
    return 0.0


def _looks_like_media_header(path: str) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(12)
    return head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide") or head[:4] == b"\x1aE\xdf\xa3"


def probe(path: str, scan_packets: bool = True) -> MediaInfo:
    """Describe ``path`` or raise InvalidMedia (empty, unreadable, truncated, not a video container).

    With ``scan_packets`` every video packet header is read (no decoding: about a second per hour of
    video) to find where the video really ends, so a file cut short in transit is caught here rather
    than as a broken ladder.
    """
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise InvalidMedia("not_a_video", f"cannot read {path}: {exc.strerror}") from None
    if size == 0:
        raise InvalidMedia("empty_file", f"{path} is zero bytes")
    try:
        container = av.open(path, metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        if _looks_like_media_header(path):
            raise InvalidMedia(
                "truncated",
                f"{os.path.basename(path)} starts like a media file but cannot be read ({exc})",
            ) from None
        raise InvalidMedia("not_a_video", f"{os.path.basename(path)} is not a media file ({exc})") from None
    with container:
        fmt = container.format.name
        duration = float(container.duration) / 1e6 if container.duration else 0.0
        video: Optional[VideoStream] = None
        video_index: Optional[int] = None
        for stream in container.streams.video:
            # Cover art in MP3/M4A arrives as a one-frame "video" stream.
            if _is_cover_art(stream):
                continue
            ctx = stream.codec_context
            video = VideoStream(
                codec=_codec_name(ctx),
                width=int(ctx.width),
                height=int(ctx.height),
                frame_rate=_frame_rate(stream),
                pix_fmt=ctx.pix_fmt,
                rotation=_rotation(container, stream),
                bit_rate=int(ctx.bit_rate) if ctx.bit_rate else None,
            )
            video_index = stream.index
            if stream.duration and stream.time_base:
                duration = max(duration, float(stream.duration * stream.time_base))
            break
        audio = tuple(
            AudioStream(
                codec=_codec_name(s.codec_context),
                channels=int(s.codec_context.channels),
                sample_rate=int(s.codec_context.sample_rate),
                language=(s.metadata or {}).get("language"),
            )
            for s in container.streams.audio
        )
        video_end: Optional[float] = None
        video_kbps: Optional[float] = None
        if video is not None and scan_packets:
            container.seek(0)
            video_end, video_bytes = _video_end(container, video_index)
            if video_end:
                video_kbps = video_bytes * 8 / video_end / 1000
            if video_end is not None and duration <= 0:
                duration = video_end
            if video_end is None:
                raise InvalidMedia("truncated", f"{os.path.basename(path)} holds no readable video packets")
    return MediaInfo(path, size, fmt, duration, video, audio, video_end, video_kbps)


def _video_end(container: Any, index: Optional[int]) -> tuple[Optional[float], int]:
    """(seconds of video present, bytes of video packets read)."""
    stream = container.streams[index]
    end: Optional[float] = None
    start: Optional[float] = None
    total = 0
    try:
        for packet in container.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            t = float(packet.pts * packet.time_base)
            total += packet.size
            if start is None:
                start = t
            d = float(packet.duration * packet.time_base) if packet.duration else 0.0
            end = t + d if end is None else max(end, t + d)
    except av.error.FFmpegError:
        pass  # a corrupt tail: what was read so far is where the video ends
    if end is None or start is None:
        return None, total
    # Relative to the first packet: MPEG-TS timestamps start near 1.4 s, MP4's at 0 (or just below).
    return end - start, total
