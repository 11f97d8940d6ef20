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
* Never more bits than the source has: a rung's elementary-stream rate is capped at the source's own
  video bit rate, converted to the target codec's efficiency and scaled to the rung's pixel rate by the
  same 0.75 power (:func:`source_cap_kbps`). Bits above that re-encode the source's coding noise, not
  picture. Capped rungs are named by their capped rate, and a rung the cap brings within
  ``MIN_RUNG_STEP`` of its lower neighbour is dropped (two 720p rungs from a 1.2 Mbit/s source are one).
* A rung's name and ``bitrate_kbps`` are what it delivers: the average bit rate of its segments, as
  AVERAGE-BANDWIDTH states it. The encoder is given that minus the container's overhead
  (:func:`mux_overhead_kbps`: MPEG-TS costs ~122 bytes a frame plus 2.2 %, fMP4 ~13 bytes a frame),
  and rate control is two-pass, so delivered lands within a few per cent of the name.
* VBV: maxrate = ``peak_ratio`` x the encoder target (Apple caps VOD peak at 200 % of average),
  buffer = 2 x target. Each rung's codec level is the lowest whose limits hold its size, frame rate and
  VBV (``domain.levels``), and is passed to the encoder.

Long module: the rules above and the rung type they produce; every function is one rule of the
same table, and the codec details (overhead, caps, levels) are what a rung is made of.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from netflix_clone.video_processor.domain.levels import (
    H264Encoding,
    av1_level,
    avc_codecs,
    h264_level,
    hevc_level,
    level_name,
)
from netflix_clone.video_processor.errors import LadderError

__all__ = [
    "APPLE_H264",
    "APPLE_HEVC",
    "CODECS",
    "AUDIO_CODECS_TAG",
    "CodecSpec",
    "LadderError",
    "MIN_RUNG_STEP",
    "Rung",
    "SourceBudget",
    "cap_to_source",
    "default_ladder",
    "delivered_kbps",
    "encoder_kbps",
    "even",
    "fit_to_box",
    "make_rung",
    "mux_overhead_kbps",
    "rung_frame_rate",
    "rung_level",
    "source_cap_kbps",
    "thin_ladder",
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


# Bits each codec needs for the same picture, relative to H.264 (common guidance: HEVC and VP9 save
# about a third, AV1 about 45 %; MPEG-2 needs about twice H.264's rate).
CODEC_EFFICIENCY: dict[str, float] = {
    "h264": 1.0,
    "hevc": 1.5,
    "vp9": 1.5,
    "av1": 1.8,
    "vp8": 1.0,
    "mpeg4": 0.7,
    "msmpeg4v3": 0.6,
    "h263": 0.6,
    "mpeg2video": 0.5,
    "mpeg1video": 0.4,
}
# Sources in these codecs are production masters: near-lossless or intra-only, so their bit rate says
# nothing about the picture; no cap applies.
MEZZANINE_CODECS = frozenset(
    {"prores", "dnxhd", "mjpeg", "rawvideo", "ffv1", "huffyuv", "utvideo", "jpeg2000", "png",
     "v210", "qtrle", "cfhd", "hap", "magicyuv", "r210", "v410"}
)  # fmt: skip
MIN_RUNG_STEP = 1.15  # capped rungs closer than this to their lower neighbour are not worth a switch

# Container overhead per rendition, measured on our ffmpeg's HLS muxer (see mux_overhead_kbps).
_TS_BYTES_PER_FRAME = 122.0  # PES header, access unit delimiter, PCR, and the half-filled last packet
_TS_PROPORTIONAL = 0.022  # 4-byte header per 184-byte payload
_FMP4_BYTES_PER_FRAME = 13.0  # trun entry, plus moof/mdat headers spread over the fragment


def mux_overhead_kbps(container: str, frame_rate: float, es_kbps: float) -> float:
    """Bits the segment container adds to an elementary stream of ``es_kbps``.

    MPEG-TS packs every frame into its own PES packet in 188-byte TS packets: a 19-byte PES header
    (PTS and DTS), a 6-byte access-unit delimiter, the PCR adaptation field and the stuffing of the
    last, partly filled packet cost ~122 bytes a frame, and each packet's 4-byte header 2.2 % of
    the payload (measured: 27 kbit/s on a 115 kbit/s 25 fps stream, 90 on 2950). fMP4 adds a
    ``trun`` entry per sample and a fragment header per segment: ~13 bytes a frame.
    """
    if container == "fmp4":
        return frame_rate * _FMP4_BYTES_PER_FRAME * 8 / 1000
    return frame_rate * _TS_BYTES_PER_FRAME * 8 / 1000 + _TS_PROPORTIONAL * es_kbps


def delivered_kbps(container: str, frame_rate: float, es_kbps: float) -> float:
    """Average segment bit rate of a rendition whose elementary stream runs at ``es_kbps``."""
    return es_kbps + mux_overhead_kbps(container, frame_rate, es_kbps)


def encoder_kbps(container: str, frame_rate: float, nominal_kbps: float) -> float:
    """The elementary-stream rate that delivers ``nominal_kbps`` in segments (inverse of the above).

    Never below half the nominal rate: a rung so small that the container would eat half of it
    is given half, and its measured average says what it really delivers.
    """
    fixed = mux_overhead_kbps(container, frame_rate, 0.0)
    proportional = _TS_PROPORTIONAL if container != "fmp4" else 0.0
    return max(0.5 * nominal_kbps, (nominal_kbps - fixed) / (1.0 + proportional))


@dataclass(frozen=True)
class SourceBudget:
    """What the upload spends on its video: the ceiling for every rung (see ``source_cap_kbps``)."""

    codec: str
    kbps: Optional[float]  # average video bit rate (packet bytes over duration)
    width: int
    height: int
    frame_rate: float


def source_cap_kbps(source: SourceBudget, width: int, height: int, frame_rate: float, codec: str) -> Optional[float]:
    """The highest elementary-stream rate a rung of this size can justify from ``source``, or None.

    The source's rate is converted to the target codec (an HEVC source at 4 Mbit/s holds what H.264
    needs 6 for) and scaled to the rung's pixel rate with the 0.75 power the tables use. Masters in
    intra or lossless codecs, and sources of unknown rate, set no cap.
    """
    if not source.kbps or source.kbps <= 0 or source.codec in MEZZANINE_CODECS:
        return None
    efficiency = CODEC_EFFICIENCY.get(source.codec)
    if efficiency is None:
        return None
    equivalent = source.kbps * efficiency / CODEC_EFFICIENCY.get(codec, 1.0)
    share = (width * height * frame_rate) / (source.width * source.height * source.frame_rate)
    return float(equivalent * min(1.0, share) ** 0.75)


@dataclass(frozen=True)
class Rung:
    width: int
    height: int
    frame_rate: float
    bitrate_kbps: int  # nominal: the average bit rate of the rendition's segments
    encoder_kbps: int  # elementary-stream target (nominal minus the container's overhead)
    maxrate_kbps: int  # VBV peak rate and buffer, on the elementary stream
    bufsize_kbps: int
    codec: str = "h264"
    level: int = 0  # lowest level for size, rate and VBV: level_idc / general_level_idc / seq_level_idx
    container: str = "ts"
    predicted_vmaf: Optional[float] = None  # per-title mode: the hull's estimate
    capped_from_kbps: Optional[int] = None  # the table's rate, when the source cap lowered it
    h264: H264Encoding = H264Encoding()  # the profile x264 will signal (H.264 rungs)

    @property
    def name(self) -> str:
        return f"{min(self.width, self.height)}p-{self.bitrate_kbps}k"

    @property
    def level_option(self) -> str:
        """The level as the encoder's option takes it."""
        return level_name(self.codec, self.level)

    @property
    def codecs_tag(self) -> str:
        """The RFC 6381 string the plan expects; the pipeline declares the one read from the stream."""
        if self.codec == "h264":
            return avc_codecs(self.h264.profile_idc, self.h264.constraint_flags, self.level)
        if self.codec == "hevc":
            return f"hvc1.1.6.L{self.level}.B0"  # Main, progressive frame-only content
        return f"av01.0.{self.level:02d}M.08"

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "name": self.name,
            "width": self.width,
            "height": self.height,
            "frame_rate": round(self.frame_rate, 3),
            "bitrate_kbps": self.bitrate_kbps,
            "encoder_kbps": self.encoder_kbps,
            "maxrate_kbps": self.maxrate_kbps,
            "bufsize_kbps": self.bufsize_kbps,
            "codec": self.codec,
            "level": self.level_option,
            "codecs_tag": self.codecs_tag,
        }
        if self.capped_from_kbps is not None:
            out["capped_from_kbps"] = self.capped_from_kbps
        if self.predicted_vmaf is not None:
            out["predicted_vmaf"] = round(self.predicted_vmaf, 2)
        return out


def even(value: float) -> int:
    """Nearest even integer >= 2 (4:2:0 chroma needs even luma dimensions)."""
    return max(2, 2 * int(round(value / 2.0)))


def fit_to_box(src_w: int, src_h: int, box_w: int, box_h: int) -> tuple[int, int, float]:
    """Scale (src_w, src_h) to fit inside the box, box turned for portrait sources. Returns (w, h, scale).

    >>> fit_to_box(1920, 800, 1280, 720)[:2]    # a 2.4:1 film in the 720p box
    (1280, 534)
    >>> fit_to_box(1080, 1920, 1280, 720)[:2]   # a phone's portrait clip: the box turned
    (720, 1280)
    """
    if src_h > src_w:
        box_w, box_h = box_h, box_w
    scale = min(box_w / src_w, box_h / src_h)
    return even(src_w * scale), even(src_h * scale), scale


def rung_frame_rate(source_fps: float, height: int) -> float:
    """The rung's frame rate: halved until at most 60 fps, and at most 30 fps below 720p.

    >>> rung_frame_rate(59.94, 540), rung_frame_rate(59.94, 720), rung_frame_rate(120, 1080)
    (29.97, 59.94, 60.0)
    """
    fps = source_fps
    while fps > 60.0 + 1e-6:
        fps /= 2.0
    if min(height, 720) < 720 and fps > 30.0 + 1e-6:
        fps /= 2.0
    return fps


def rung_level(
    codec: str,
    width: int,
    height: int,
    frame_rate: float,
    maxrate_kbps: float,
    bufsize_kbps: float,
    h264: H264Encoding = H264Encoding(),
) -> int:
    if codec == "h264":
        return h264_level(width, height, frame_rate, maxrate_kbps, bufsize_kbps, h264.dpb_frames, h264.cpb_factor)
    if codec == "hevc":
        return hevc_level(width, height, frame_rate, maxrate_kbps, bufsize_kbps)
    return av1_level(width, height, frame_rate, maxrate_kbps)


def make_rung(
    codec: str,
    width: int,
    height: int,
    frame_rate: float,
    bitrate_kbps: float,
    peak_ratio: float = 1.5,
    predicted_vmaf: Optional[float] = None,
    container: str = "ts",
    h264: H264Encoding = H264Encoding(),
    capped_from_kbps: Optional[int] = None,
) -> Rung:
    """A rung delivering ``bitrate_kbps`` on average (segments included)."""
    kbps = max(16, int(round(bitrate_kbps)))
    target = max(8, int(round(encoder_kbps(container, frame_rate, kbps))))
    maxrate, bufsize = int(round(target * peak_ratio)), 2 * target
    return Rung(
        width=width,
        height=height,
        frame_rate=frame_rate,
        bitrate_kbps=kbps,
        encoder_kbps=target,
        maxrate_kbps=maxrate,
        bufsize_kbps=bufsize,
        codec=codec,
        level=rung_level(codec, width, height, frame_rate, maxrate, bufsize, h264),
        container=container,
        predicted_vmaf=predicted_vmaf,
        capped_from_kbps=capped_from_kbps,
        h264=h264,
    )


def cap_to_source(
    rungs: list[Rung],
    source: Optional[SourceBudget],
    peak_ratio: float = 1.5,
    h264: H264Encoding = H264Encoding(),
) -> list[Rung]:
    """Lower every rung to what ``source`` justifies; drop rungs the cap made redundant.

    Rungs are walked from low to high rate; one whose (capped) rate is within ``MIN_RUNG_STEP`` of
    the rung kept below it replaces that rung if it is larger (the bigger picture for the same bits),
    else it is dropped. The top rung therefore always survives at the cap.
    """
    if source is None:
        return list(rungs)
    capped: list[Rung] = []
    for rung in rungs:
        cap = source_cap_kbps(source, rung.width, rung.height, rung.frame_rate, rung.codec)
        if cap is not None and rung.encoder_kbps > cap:
            nominal = delivered_kbps(rung.container, rung.frame_rate, cap)
            rung = make_rung(
                rung.codec,
                rung.width,
                rung.height,
                rung.frame_rate,
                nominal,
                peak_ratio,
                rung.predicted_vmaf,
                rung.container,
                h264,
                rung.capped_from_kbps or rung.bitrate_kbps,
            )
        capped.append(rung)
    kept: list[Rung] = []
    for rung in sorted(capped, key=lambda r: (r.bitrate_kbps, r.width * r.height)):
        if kept and rung.bitrate_kbps < kept[-1].bitrate_kbps * MIN_RUNG_STEP:
            if rung.width * rung.height >= kept[-1].width * kept[-1].height:
                kept[-1] = rung
            continue
        kept.append(rung)
    return kept


def default_ladder(
    source_width: int,
    source_height: int,
    source_fps: float,
    codec: str = "h264",
    max_rungs: Optional[int] = None,
    peak_ratio: float = 1.5,
    container: str = "ts",
    source: Optional[SourceBudget] = None,
    h264: H264Encoding = H264Encoding(),
) -> list[Rung]:
    """Apple's ladder for ``codec`` fitted to a source of the given *display* size.

    With ``source`` every rung is capped at what the source's own bit rate justifies.

    >>> [rung.name for rung in default_ladder(1280, 720, 25.0)]   # never above the source's 720p
    ['234p-145k', '360p-365k', '432p-730k', '432p-1100k', '540p-2000k', '720p-3000k', '720p-4500k']
    >>> [rung.name for rung in default_ladder(1280, 720, 25.0, max_rungs=3)]
    ['234p-145k', '432p-730k', '720p-4500k']
    """
    if codec not in CODECS:
        raise LadderError(f"unknown codec {codec!r} (known: {', '.join(sorted(CODECS))})")
    if source_width < 2 or source_height < 2 or source_fps <= 0:
        raise LadderError(f"invalid source {source_width}x{source_height} @ {source_fps} fps")
    if CODECS[codec].fmp4_only:
        container = "fmp4"
    rungs: list[Rung] = []
    for box_w, box_h, kbps in CODECS[codec].table:
        width, height, scale = fit_to_box(source_width, source_height, box_w, box_h)
        if scale > 1.0 + 1e-9:
            continue
        fill = (width * height) / (box_w * box_h)
        fps = rung_frame_rate(source_fps, min(width, height))
        rate = kbps * min(1.0, fill) ** 0.75 * (1.5 if fps > 30.0 + 1e-6 else 1.0)
        rungs.append(make_rung(codec, width, height, fps, rate, peak_ratio, None, container, h264))
    if not rungs:
        # Smaller than the smallest box: one rung at the source's own size, bits scaled by area.
        box_w, box_h, kbps = CODECS[codec].table[0]
        width, height = even(source_width), even(source_height)
        fill = (width * height) / (box_w * box_h)
        fps = rung_frame_rate(source_fps, min(width, height))
        # At least 64 kbit/s of video: at QCIF sizes the container alone costs ~30 kbit/s.
        rate = max(delivered_kbps(container, fps, 64.0), kbps * fill**0.75)
        rungs.append(make_rung(codec, width, height, fps, rate, peak_ratio, None, container, h264))
    rungs = cap_to_source(rungs, source, peak_ratio, h264)
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
