"""Codec levels from the standards' tables, CODECS strings, and the bitstream parsers behind them."""

from __future__ import annotations

from pathlib import Path

import pytest

from netflix_clone.video_processor.adapters.ffmpeg import run_ffmpeg
from netflix_clone.video_processor.domain.bitstream import (
    BitstreamError,
    parse_av1c,
    parse_avcc,
    parse_hvcc,
    sps_from_annexb,
)
from netflix_clone.video_processor.domain.ladder import default_ladder
from netflix_clone.video_processor.domain.levels import (
    LevelError,
    av1_level,
    h264_level,
    hevc_codecs,
    hevc_level,
    level_name,
    x264_dpb_frames,
)


@pytest.mark.parametrize(
    "width, height, fps, maxrate, bufsize, expected",
    [
        (176, 144, 15.0, 51, 68, 10),  # level 1: 99 MBs, 1485 MB/s
        (176, 144, 29.97, 51, 68, 11),  # 2967 MB/s > 1485: level 1.1
        (416, 234, 25.0, 177, 236, 13),  # Apple's 234p rung: 1.3, not 3.0
        (416, 234, 25.0, 1000, 1300, 20),  # same picture, more bits: MaxBR 768 x 1.25 < 1000
        (640, 360, 25.0, 500, 666, 30),  # 920 MBs > 792 (2.1); 23000 MB/s > 20250 (2.2)
        (960, 540, 25.0, 1174, 1566, 31),
        (1280, 720, 25.0, 4653, 6204, 31),
        (1280, 720, 50.0, 7000, 9000, 32),
        (1920, 1080, 25.0, 8550, 11400, 40),
        (1920, 1080, 25.0, 26000, 30000, 41),  # VBV above level 4's 25000 x 1.25 buffer
        (1920, 1080, 60.0, 12000, 16000, 42),
        (3840, 2160, 30.0, 30000, 40000, 51),
    ],
)
def test_h264_levels_follow_table_a1(
    width: int, height: int, fps: float, maxrate: int, bufsize: int, expected: int
) -> None:
    assert h264_level(width, height, fps, maxrate, bufsize) == expected


def test_h264_decoded_picture_buffer_can_raise_the_level() -> None:
    # 1080p at level 4 holds 32768 / 8160 = 4 frames: x264's "slower" (8 refs) needs level 5.
    assert h264_level(1920, 1080, 25.0, 8550, 11400, dpb_frames=x264_dpb_frames("slower")) == 50
    assert x264_dpb_frames("fast") == 4 and x264_dpb_frames("ultrafast") == 1
    with pytest.raises(LevelError):
        h264_level(16384, 16384, 60.0)


def test_hevc_and_av1_levels() -> None:
    assert hevc_level(640, 360, 25.0, 300, 400) == 63  # 2.1: 230400 samples, 5.8 M/s
    assert hevc_level(960, 540, 25.0, 900, 1200) == 90  # 3.0
    assert hevc_level(1280, 720, 25.0, 3000, 4000) == 93  # 3.1
    assert hevc_level(1920, 1080, 25.0, 8000, 10000) == 120  # 4.0
    assert hevc_level(1920, 1080, 25.0, 15000, 20000) == 123  # above Main-tier 4.0's 12000
    assert av1_level(640, 272, 25.0, 300) == 1  # 2.1, as SVT-AV1 picks it itself
    assert av1_level(960, 540, 25.0, 900) == 4  # 3.0
    assert av1_level(1920, 1080, 30.0, 8000) == 8  # 4.0
    assert [level_name("h264", 9), level_name("h264", 31), level_name("hevc", 93)] == [
        "1b",
        "3.1",
        "3.1",
    ]
    assert level_name("av1", 5) == "31"  # SVT-AV1's spelling of level 3.1


def test_small_rungs_are_declared_at_their_own_level() -> None:
    """Issue 16: the 234p rung said avc1.64001e (3.0) while its stream said 1.3."""
    ladder = default_ladder(1920, 1080, 25.0)
    assert ladder[0].codecs_tag == "avc1.64000d"
    assert ladder[-1].codecs_tag == "avc1.640028"
    assert [r.level for r in ladder] == sorted(r.level for r in ladder)


def test_codecs_strings_from_configuration_records() -> None:
    assert parse_avcc(bytes([1, 0x64, 0x00, 0x1F, 0xFF])).codecs == "avc1.64001f"
    # x265 Main: space 0, tier 0, profile 1; compatibility flags 1 and 2; progressive,
    # frame-only constraint flags (0xB0); level 3.1 (93).
    hvcc = bytes([1, 0x01, 0x60, 0, 0, 0, 0xB0, 0, 0, 0, 0, 0, 93]) + b"\x00" * 10
    config = parse_hvcc(hvcc)
    assert config.codecs == "hvc1.1.6.L93.B0" and config.level == 93
    assert hevc_codecs(0, 2, 0x20000000, 1, 150, b"\x90\0\0\0\0\0") == "hvc1.2.4.H150.90"
    assert parse_av1c(bytes([0x81, 0x05, 0x0C, 0])).codecs == "av01.0.05M.08"
    assert parse_av1c(bytes([0x81, (1 << 5) | 8, 0xC0, 0])).codecs == "av01.1.08H.10"
    with pytest.raises(BitstreamError):
        parse_avcc(b"\x00\x64")


def test_sps_is_found_in_an_annex_b_stream_behind_other_nal_units() -> None:
    aud = b"\x00\x00\x00\x01\x09\xf0"
    sei = b"\x00\x00\x01\x06\x05\x00\x00\x03\x01\x80"
    sps = b"\x00\x00\x00\x01\x67\x64\x00\x0d\xac\xd9"
    found = sps_from_annexb(aud + sei + sps)
    assert found is not None and (found.profile, found.constraints, found.level) == (100, 0, 13)
    assert sps_from_annexb(aud + sei) is None


@pytest.mark.parametrize(
    "size, fps, maxrate, bufsize",
    [
        ("176x144", "15", 51, 68),
        ("176x144", "30000/1001", 51, 68),
        ("416x234", "25", 177, 236),
        ("640x360", "25", 500, 666),
        ("960x540", "25", 1174, 1566),
        ("1280x720", "50", 7000, 9000),
        ("1920x1080", "25", 8550, 11400),
        ("1920x1080", "25", 26000, 30000),
    ],
)
def test_computed_level_is_the_one_x264_picks_itself(
    tmp_path: Path, size: str, fps: str, maxrate: int, bufsize: int
) -> None:
    """x264 left to choose (no -level) applies Annex A to the stream: ours must agree with it."""
    out = tmp_path / "auto.h264"
    run_ffmpeg(
        ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}", "-frames:v", "3",
         "-c:v", "libx264", "-preset", "fast", "-profile:v", "high", "-b:v", f"{maxrate // 2}k",
         "-maxrate", f"{maxrate}k", "-bufsize", f"{bufsize}k", "-f", "h264", str(out)]
    )  # fmt: skip
    found = sps_from_annexb(out.read_bytes())
    assert found is not None
    width, height = map(int, size.split("x"))
    num, _, den = fps.partition("/")
    rate = int(num) / int(den or 1)
    assert found.level == h264_level(width, height, rate, maxrate, bufsize)
