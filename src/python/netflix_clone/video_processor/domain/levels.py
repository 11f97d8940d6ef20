"""Codec levels from the standards' tables, and the RFC 6381 CODECS strings that declare them.

A level bounds what a decoder must handle: picture size, sample (macroblock) rate, bit rate and buffer
(the VBV/HRD ``maxrate``/``bufsize``), and for H.264 the decoded-picture buffer. A player limited to a
level skips every variant declared above it, so each rung gets the *lowest* level its stream fits,
that level is passed to the encoder, and CODECS states exactly what the bitstream carries.

* H.264: ITU-T H.264 Table A-1 (MaxMBPS, MaxFS, MaxDpbMbs, MaxBR, MaxCPB), the frame-dimension limit
  of A.3.1 (``PicWidthInMbs**2 <= 8 * MaxFS``), and the High-profile factor 1.25 on MaxBR/MaxCPB
  (cpbBrVclFactor = 1250, Table A-2). The checks are the ones x264 applies when it picks a level
  itself (``x264_validate_levels``), so the computed level equals x264's own choice for the same
  stream, which the tests verify.
* HEVC: ITU-T H.265 Tables A.8/A.9 (MaxLumaPs, MaxLumaSr, MaxBR and MaxCPB of the Main tier).
* AV1: AV1 specification Annex A.3 (MaxPicSize, MaxHSize, MaxVSize, MaxDisplayRate, MainMbps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from netflix_clone.video_processor.errors import LevelError

__all__ = [
    "AV1_LEVELS",
    "H264_LEVELS",
    "H264Encoding",
    "HEVC_LEVELS",
    "LevelError",
    "av1_codecs",
    "av1_level",
    "avc_codecs",
    "h264_level",
    "hevc_codecs",
    "hevc_level",
    "level_name",
    "x264_dpb_frames",
    "x264_encoding",
]


@dataclass(frozen=True)
class H264Level:
    idc: int  # level_idc as written in the SPS (9 stands for level 1b in the High profiles)
    name: str
    max_mbps: int  # macroblocks per second
    max_fs: int  # macroblocks per frame
    max_dpb_mbs: int
    max_br: int  # 1000 bits/s (Baseline/Main; x1.25 for High)
    max_cpb: int  # 1000 bits


# ITU-T H.264 (08/2021) Table A-1, in the order x264 tries them (1b sits between 1 and 1.1).
H264_LEVELS: tuple[H264Level, ...] = (
    H264Level(10, "1", 1485, 99, 396, 64, 175),
    H264Level(9, "1b", 1485, 99, 396, 128, 350),
    H264Level(11, "1.1", 3000, 396, 900, 192, 500),
    H264Level(12, "1.2", 6000, 396, 2376, 384, 1000),
    H264Level(13, "1.3", 11880, 396, 2376, 768, 2000),
    H264Level(20, "2", 11880, 396, 2376, 2000, 2000),
    H264Level(21, "2.1", 19800, 792, 4752, 4000, 4000),
    H264Level(22, "2.2", 20250, 1620, 8100, 4000, 4000),
    H264Level(30, "3", 40500, 1620, 8100, 10000, 10000),
    H264Level(31, "3.1", 108000, 3600, 18000, 14000, 14000),
    H264Level(32, "3.2", 216000, 5120, 20480, 20000, 20000),
    H264Level(40, "4", 245760, 8192, 32768, 20000, 25000),
    H264Level(41, "4.1", 245760, 8192, 32768, 50000, 62500),
    H264Level(42, "4.2", 522240, 8704, 34816, 50000, 62500),
    H264Level(50, "5", 589824, 22080, 110400, 135000, 135000),
    H264Level(51, "5.1", 983040, 36864, 184320, 240000, 240000),
    H264Level(52, "5.2", 2073600, 36864, 184320, 240000, 240000),
    H264Level(60, "6", 4177920, 139264, 696320, 240000, 240000),
    H264Level(61, "6.1", 8355840, 139264, 696320, 480000, 480000),
    H264Level(62, "6.2", 16711680, 139264, 696320, 800000, 800000),
)


@dataclass(frozen=True)
class H264Encoding:
    """What an x264 preset makes of a High-profile request: the profile it signals and its DPB."""

    profile_idc: int = 100  # High
    constraint_flags: int = 0
    dpb_frames: int = 4

    @property
    def cpb_factor(self) -> int:
        """x264's cbp_factor: MaxBR/MaxCPB x factor/4 (High 5/4 = cpbBrVclFactor 1250)."""
        return 5 if self.profile_idc >= 100 else 4


# x264 presets: the SPS's num_ref_frames (= max_dec_frame_buffering) is
# max(ref, 1 + reorder frames, 4 with B-pyramid), so every preset with B-frames needs 4 frames of DPB.
_X264_PRESET_REFS = {
    "ultrafast": 1,  # no B-frames: a DPB of one frame
    "superfast": 1,
    "veryfast": 1,
    "faster": 2,
    "fast": 2,
    "medium": 3,
    "slow": 5,
    "slower": 8,
    "veryslow": 16,
    "placebo": 16,
}


def x264_dpb_frames(preset: str) -> int:
    """Frames of decoded-picture buffer x264 signals for ``preset`` (B-pyramid needs 4)."""
    refs = _X264_PRESET_REFS.get(preset, 16)  # unknown: assume the worst
    if preset == "ultrafast":
        return refs
    return max(refs, 4)


def x264_encoding(preset: str) -> H264Encoding:
    """``ultrafast`` turns off CABAC, B-frames and the 8x8 transform, so x264 signals Constrained
    Baseline (profile 66, constraint_set0 and 1) however High was asked for; every other preset
    signals High."""
    if preset == "ultrafast":
        return H264Encoding(66, 0xC0, x264_dpb_frames(preset))
    return H264Encoding(100, 0, x264_dpb_frames(preset))


def _x264_checks(
    level: H264Level,
    mb_w: int,
    mb_h: int,
    mbps: int,
    maxrate_kbps: Optional[float],
    bufsize_kbps: Optional[float],
    dpb_frames: int,
    cpb_factor: int,
) -> bool:
    mbs = mb_w * mb_h
    return (
        mbs <= level.max_fs
        and mb_w * mb_w <= 8 * level.max_fs
        and mb_h * mb_h <= 8 * level.max_fs
        and mbs * dpb_frames <= level.max_dpb_mbs
        and (maxrate_kbps is None or maxrate_kbps <= level.max_br * cpb_factor // 4)
        and (bufsize_kbps is None or bufsize_kbps <= level.max_cpb * cpb_factor // 4)
        and mbps <= level.max_mbps
    )


def _fps_fraction(fps: float) -> tuple[int, int]:
    """The frame rate as the rational ffmpeg hands the encoder (29.97 -> 30000/1001)."""
    for den in (1, 1001):
        num = fps * den
        if abs(num - round(num)) < 1e-3 * den:
            return int(round(num)), den
    return int(round(fps * 1000)), 1000


def h264_level(
    width: int,
    height: int,
    fps: float,
    maxrate_kbps: Optional[float] = None,
    bufsize_kbps: Optional[float] = None,
    dpb_frames: int = 4,
    cpb_factor: int = 5,
) -> int:
    """The lowest H.264 level_idc whose limits hold the stream (9 = level 1b).

    ``cpb_factor`` is 5 for the High profile (bit-rate and buffer limits x 1.25), 4 for
    Baseline/Main.

    >>> h264_level(1920, 1080, 30, 7500, 15000)      # level 4.0
    40
    >>> h264_level(1920, 1080, 60, 7500, 15000)      # twice the macroblock rate: 4.2
    42
    """
    mb_w, mb_h = math.ceil(width / 16), math.ceil(height / 16)
    num, den = _fps_fraction(fps)
    mbps = mb_w * mb_h * num // den
    for level in H264_LEVELS:
        if _x264_checks(level, mb_w, mb_h, mbps, maxrate_kbps, bufsize_kbps, dpb_frames, cpb_factor):
            if level.idc == 9 and cpb_factor < 5:
                return 11  # Baseline/Main signal 1b as level_idc 11 with constraint_set3
            return level.idc
    raise LevelError(f"{width}x{height} @ {fps:.3f} fps exceeds H.264 level 6.2")


def level_name(codec: str, level: int) -> str:
    """What the encoder's level option takes: "3.1" (x264/x265), "1b", or "31" for SVT-AV1."""
    if codec == "h264":
        return next(lv.name for lv in H264_LEVELS if lv.idc == level)
    if codec == "hevc":
        whole, tenth = divmod(level // 3, 10)
        return f"{whole}.{tenth}"
    major, minor = 2 + level // 4, level % 4
    return f"{major}{minor}"


@dataclass(frozen=True)
class HevcLevel:
    idc: int  # general_level_idc = 30 x level
    max_luma_ps: int
    max_luma_sr: int  # samples per second
    max_br: int  # 1000 bits/s, Main tier
    max_cpb: int  # 1000 bits, Main tier


# ITU-T H.265 Tables A.8 and A.9 (Main tier).
HEVC_LEVELS: tuple[HevcLevel, ...] = (
    HevcLevel(30, 36864, 552960, 128, 350),
    HevcLevel(60, 122880, 3686400, 1500, 1500),
    HevcLevel(63, 245760, 7372800, 3000, 3000),
    HevcLevel(90, 552960, 16588800, 6000, 6000),
    HevcLevel(93, 983040, 33177600, 10000, 10000),
    HevcLevel(120, 2228224, 66846720, 12000, 12000),
    HevcLevel(123, 2228224, 133693440, 20000, 20000),
    HevcLevel(150, 8912896, 267386880, 25000, 25000),
    HevcLevel(153, 8912896, 534773760, 40000, 40000),
    HevcLevel(156, 8912896, 1069547520, 60000, 60000),
    HevcLevel(180, 35651584, 1069547520, 60000, 60000),
    HevcLevel(183, 35651584, 2139095040, 120000, 120000),
    HevcLevel(186, 35651584, 4278190080, 240000, 240000),
)


def hevc_level(
    width: int,
    height: int,
    fps: float,
    maxrate_kbps: Optional[float] = None,
    bufsize_kbps: Optional[float] = None,
) -> int:
    """The lowest HEVC Main-tier general_level_idc for the stream (93 = level 3.1)."""
    samples = width * height
    for level in HEVC_LEVELS:
        side = math.sqrt(8.0 * level.max_luma_ps)
        limits = (
            samples <= level.max_luma_ps,
            max(width, height) <= side,
            samples * fps <= level.max_luma_sr,
            maxrate_kbps is None or maxrate_kbps <= level.max_br,
            bufsize_kbps is None or bufsize_kbps <= level.max_cpb,
        )
        if all(limits):
            return level.idc
    raise LevelError(f"{width}x{height} @ {fps:.3f} fps exceeds HEVC level 6.2 (Main tier)")


@dataclass(frozen=True)
class Av1Level:
    idx: int  # seq_level_idx
    max_pic_size: int
    max_h: int
    max_v: int
    max_display_rate: int  # luma samples per second
    main_mbps: float


# AV1 Bitstream & Decoding Process Specification, Annex A.3 (levels 7.x are undefined there).
AV1_LEVELS: tuple[Av1Level, ...] = (
    Av1Level(0, 147456, 2048, 1152, 4423680, 1.5),
    Av1Level(1, 278784, 2816, 1584, 8363520, 3.0),
    Av1Level(4, 665856, 4352, 2448, 19975680, 6.0),
    Av1Level(5, 1065024, 5504, 3096, 31950720, 10.0),
    Av1Level(8, 2359296, 6144, 3456, 70778880, 12.0),
    Av1Level(9, 2359296, 6144, 3456, 141557760, 20.0),
    Av1Level(12, 8912896, 8192, 4352, 267386880, 30.0),
    Av1Level(13, 8912896, 8192, 4352, 534773760, 40.0),
    Av1Level(14, 8912896, 8192, 4352, 1069547520, 60.0),
    Av1Level(15, 8912896, 8192, 4352, 1069547520, 60.0),
    Av1Level(16, 35651584, 16384, 8704, 1069547520, 60.0),
    Av1Level(17, 35651584, 16384, 8704, 2139095040, 100.0),
    Av1Level(18, 35651584, 16384, 8704, 4278190080, 160.0),
    Av1Level(19, 35651584, 16384, 8704, 4278190080, 160.0),
)


def av1_level(width: int, height: int, fps: float, maxrate_kbps: Optional[float] = None) -> int:
    """The lowest AV1 Main-tier seq_level_idx for the stream (5 = level 3.1)."""
    samples = width * height
    for level in AV1_LEVELS:
        limits = (
            samples <= level.max_pic_size,
            width <= level.max_h and height <= level.max_v,
            samples * fps <= level.max_display_rate,
            maxrate_kbps is None or maxrate_kbps <= level.main_mbps * 1000,
        )
        if all(limits):
            return level.idx
    raise LevelError(f"{width}x{height} @ {fps:.3f} fps exceeds AV1 level 6.3 (Main tier)")


def avc_codecs(profile_idc: int, constraint_flags: int, level_idc: int) -> str:
    """RFC 6381 ``avc1.PPCCLL``: the three SPS bytes after the NAL header, in hex.

    >>> avc_codecs(100, 0, 40)    # High profile, level 4.0
    'avc1.640028'
    """
    return f"avc1.{profile_idc:02x}{constraint_flags:02x}{level_idc:02x}"


def hevc_codecs(
    profile_space: int,
    profile_idc: int,
    compatibility_flags: int,
    tier: int,
    level_idc: int,
    constraint_bytes: bytes,
) -> str:
    """ISO/IEC 14496-15 Annex E: ``hvc1.[A-C]P.<compat, bit-reversed hex>.<L|H>level.<constraint bytes>``."""
    space = ("", "A", "B", "C")[profile_space & 3]
    reversed_flags = int(f"{compatibility_flags & 0xFFFFFFFF:032b}"[::-1], 2)
    constraints = bytes(constraint_bytes).rstrip(b"\x00")
    parts = [
        "hvc1",
        f"{space}{profile_idc}",
        f"{reversed_flags:X}",
        f"{'H' if tier else 'L'}{level_idc}",
    ]
    parts += [f"{b:02X}" for b in constraints]
    return ".".join(parts)


def av1_codecs(profile: int, level_idx: int, tier: int, bit_depth: int) -> str:
    """AV1 Codec ISO Media File Format Binding: ``av01.P.LLT.DD``."""
    return f"av01.{profile}.{level_idx:02d}{'H' if tier else 'M'}.{bit_depth:02d}"
