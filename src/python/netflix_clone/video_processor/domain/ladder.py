"""Bitrate ladders: Apple's HLS authoring table fitted to a source, and the codec details players need.

Rules (HLS Authoring Specification for Apple Devices, rung tables for H.264 and HEVC):

* Each rung is a *box*; the source is scaled to fit inside it keeping its display aspect ratio, with
  even dimensions (4:2:0 chroma). A portrait source uses the box turned on its side.
* Never upscale: a rung whose fitted size exceeds the source is dropped. A source smaller than the
  smallest rung gets one rung at its own size.
* Bitrates in the tables are for full 16:9 boxes at up to 30 fps. A rung that fills less of its box
  (2.39:1 films, 4:3 archives) gets the bitrate scaled by (pixels / box pixels) ** 0.75, since bits do
  not grow linearly with area; 31-60 fps rungs get x1.5 (Apple's 60 fps guidance).
* Rungs below 720p play at most 30 fps: high frame rates cost bits that small screens do not show.
* VBV: maxrate = ``peak_ratio`` x target (Apple caps VOD peak at 200 % of average), buffer = 2 x target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

__all__ = [
    "APPLE_H264",
    "APPLE_HEVC",
    "CODECS",
    "AUDIO_CODECS_TAG",
    "CodecSpec",
    "LadderError",
    "Rung",
    "default_ladder",
    "even",
    "fit_to_box",
    "h264_level",
]

# (box width, box height, kbps at <= 30 fps) from Apple's HLS authoring specification.
APPLE_H264: tuple[tuple[int, int, int], ...] = (
    (416, 234, 145),
    (640, 360, 365),
    (768, 432, 730),
    (768, 432, 1100),
    (960, 540, 2000),
    (1280, 720, 3000),
    (1280, 720, 4500),
    (1920, 1080, 6000),
    (1920, 1080, 7800),
)
APPLE_HEVC: tuple[tuple[int, int, int], ...] = (
    (640, 360, 145),
    (768, 432, 300),
    (960, 540, 600),
    (960, 540, 900),
    (960, 540, 1600),
    (1280, 720, 2400),
    (1280, 720, 3400),
    (1920, 1080, 4500),
    (1920, 1080, 5800),
    (2560, 1440, 8100),
    (3840, 2160, 11600),
    (3840, 2160, 16800),
)

AUDIO_CODECS_TAG = "mp4a.40.2"  # AAC-LC


class LadderError(ValueError):
    pass


@dataclass(frozen=True)
class CodecSpec:
    name: str  # h264 | hevc | av1
    encoder: str  # ffmpeg encoder
    table: tuple[tuple[int, int, int], ...]
    fmp4_only: bool = False  # HLS carries HEVC/AV1 in fMP4 segments only


CODECS: dict[str, CodecSpec] = {
    "h264": CodecSpec("h264", "libx264", APPLE_H264),
    "hevc": CodecSpec("hevc", "libx265", APPLE_HEVC, fmp4_only=True),
    # No Apple table for AV1; HEVC's is a conservative stand-in (AV1 needs no more bits than HEVC).
    "av1": CodecSpec("av1", "libsvtav1", APPLE_HEVC, fmp4_only=True),
}


@dataclass(frozen=True)
class Rung:
    width: int
    height: int
    frame_rate: float
    bitrate_kbps: int
    maxrate_kbps: int
    bufsize_kbps: int
    codec: str = "h264"
    predicted_vmaf: Optional[float] = None  # per-title mode: the hull's estimate

    @property
    def name(self) -> str:
        return f"{min(self.width, self.height)}p-{self.bitrate_kbps}k"

    @property
    def codecs_tag(self) -> str:
        """The RFC 6381 string for the master playlist's CODECS attribute."""
        if self.codec == "h264":
            return f"avc1.6400{h264_level(self.width, self.height, self.frame_rate):02x}"
        if self.codec == "hevc":
            return f"hvc1.1.6.L{hevc_level(self.width, self.height, self.frame_rate)}.B0"
        return f"av01.0.{av1_level(self.width, self.height, self.frame_rate):02d}M.08"

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "name": self.name,
            "width": self.width,
            "height": self.height,
            "frame_rate": round(self.frame_rate, 3),
            "bitrate_kbps": self.bitrate_kbps,
            "maxrate_kbps": self.maxrate_kbps,
            "bufsize_kbps": self.bufsize_kbps,
            "codec": self.codec,
            "codecs_tag": self.codecs_tag,
        }
        if self.predicted_vmaf is not None:
            out["predicted_vmaf"] = round(self.predicted_vmaf, 2)
        return out


def even(value: float) -> int:
    """Nearest even integer >= 2 (4:2:0 chroma needs even luma dimensions)."""
    return max(2, 2 * int(round(value / 2.0)))


def fit_to_box(src_w: int, src_h: int, box_w: int, box_h: int) -> tuple[int, int, float]:
    """Scale (src_w, src_h) to fit inside the box, box turned for portrait sources. Returns (w, h, scale)."""
    if src_h > src_w:
        box_w, box_h = box_h, box_w
    scale = min(box_w / src_w, box_h / src_h)
    return even(src_w * scale), even(src_h * scale), scale


def _level_for(table: list[tuple[int, int, int]], width: int, height: int, fps: float) -> int:
    """First level whose (max frame size, max rate) in macroblocks covers the stream."""
    mbs = math.ceil(width / 16) * math.ceil(height / 16)
    for level, max_fs, max_mbps in table:
        if mbs <= max_fs and mbs * fps <= max_mbps:
            return level
    return table[-1][0]


_H264_LEVELS = [
    (30, 1620, 40500),
    (31, 3600, 108000),
    (32, 5120, 216000),
    (40, 8192, 245760),
    (42, 8704, 522240),
    (50, 22080, 589824),
    (51, 36864, 983040),
    (52, 36864, 2073600),
]


def h264_level(width: int, height: int, fps: float) -> int:
    """H.264 level_idc (e.g. 31 for 3.1) from Table A-1's frame-size and macroblock-rate limits."""
    return _level_for(_H264_LEVELS, width, height, fps)


def hevc_level(width: int, height: int, fps: float) -> int:
    """HEVC general_level_idc (30 x level) from luma picture size and sample rate (Table A.8)."""
    samples = width * height
    for level, max_ps, max_sr in (
        (90, 552960, 33177600),
        (93, 983040, 66846720),
        (120, 2228224, 133693440),
        (123, 2228224, 267386880),
        (150, 8912896, 534773760),
        (153, 8912896, 1069547520),
    ):
        if samples <= max_ps and samples * fps <= max_sr:
            return level
    return 156


def av1_level(width: int, height: int, fps: float) -> int:
    """AV1 seq_level_idx (Annex A): 4 = 3.0, 5 = 3.1, 8 = 4.0, 9 = 4.1, 12 = 5.0, 13 = 5.1."""
    samples = width * height
    for idx, max_ps, max_rate in (
        (4, 665856, 24969600),
        (5, 1065024, 39938400),
        (8, 2359296, 77856768),
        (9, 2359296, 155713536),
        (12, 8912896, 273715200),
        (13, 8912896, 547430400),
    ):
        if samples <= max_ps and samples * fps <= max_rate:
            return idx
    return 16


def rung_frame_rate(source_fps: float, height: int) -> float:
    fps = source_fps
    while fps > 60.0 + 1e-6:
        fps /= 2.0
    if min(height, 720) < 720 and fps > 30.0 + 1e-6:
        fps /= 2.0
    return fps


def make_rung(
    codec: str,
    width: int,
    height: int,
    frame_rate: float,
    bitrate_kbps: float,
    peak_ratio: float = 1.5,
    predicted_vmaf: Optional[float] = None,
) -> Rung:
    kbps = max(16, int(round(bitrate_kbps)))
    return Rung(
        width=width,
        height=height,
        frame_rate=frame_rate,
        bitrate_kbps=kbps,
        maxrate_kbps=int(round(kbps * peak_ratio)),
        bufsize_kbps=2 * kbps,
        codec=codec,
        predicted_vmaf=predicted_vmaf,
    )


def default_ladder(
    source_width: int,
    source_height: int,
    source_fps: float,
    codec: str = "h264",
    max_rungs: Optional[int] = None,
    peak_ratio: float = 1.5,
) -> list[Rung]:
    """Apple's ladder for ``codec`` fitted to a source of the given *display* size."""
    if codec not in CODECS:
        raise LadderError(f"unknown codec {codec!r} (known: {', '.join(sorted(CODECS))})")
    if source_width < 2 or source_height < 2 or source_fps <= 0:
        raise LadderError(f"invalid source {source_width}x{source_height} @ {source_fps} fps")
    rungs: list[Rung] = []
    for box_w, box_h, kbps in CODECS[codec].table:
        width, height, scale = fit_to_box(source_width, source_height, box_w, box_h)
        if scale > 1.0 + 1e-9:
            continue
        fill = (width * height) / (box_w * box_h)
        fps = rung_frame_rate(source_fps, min(width, height))
        rate = kbps * min(1.0, fill) ** 0.75 * (1.5 if fps > 30.0 + 1e-6 else 1.0)
        rungs.append(make_rung(codec, width, height, fps, rate, peak_ratio))
    if not rungs:
        # Smaller than the smallest box: one rung at the source's own size, bits scaled by area.
        box_w, box_h, kbps = CODECS[codec].table[0]
        width, height = even(source_width), even(source_height)
        fill = (width * height) / (box_w * box_h)
        fps = rung_frame_rate(source_fps, min(width, height))
        rungs.append(
            make_rung(codec, width, height, fps, max(64.0, kbps * fill**0.75), peak_ratio)
        )
    if max_rungs is not None and len(rungs) > max_rungs:
        rungs = thin_ladder(rungs, max_rungs)
    return rungs


def thin_ladder(rungs: list[Rung], keep: int) -> list[Rung]:
    """Keep the top and bottom rungs and those closest to an even spread in log-bitrate between them."""
    if keep < 1:
        raise LadderError("a ladder needs at least one rung")
    if keep == 1:
        return [rungs[-1]]
    ordered = sorted(rungs, key=lambda r: r.bitrate_kbps)
    lo, hi = math.log(ordered[0].bitrate_kbps), math.log(ordered[-1].bitrate_kbps)
    chosen: list[Rung] = []
    for i in range(keep):
        target = lo + (hi - lo) * i / (keep - 1)
        best = min(
            (r for r in ordered if r not in chosen),
            key=lambda r, t=target: abs(math.log(r.bitrate_kbps) - t),  # type: ignore[misc]
        )
        chosen.append(best)
    return sorted(chosen, key=lambda r: r.bitrate_kbps)
