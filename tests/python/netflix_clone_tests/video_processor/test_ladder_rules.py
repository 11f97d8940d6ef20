from __future__ import annotations

import math

import pytest

from netflix_clone.video_processor.domain.ladder import (
    APPLE_H264,
    LadderError,
    default_ladder,
    even,
    fit_to_box,
    h264_level,
)


def test_full_hd_gets_apples_whole_table() -> None:
    ladder = default_ladder(1920, 1080, 25.0)
    assert [(r.width, r.height, r.bitrate_kbps) for r in ladder] == list(APPLE_H264)
    assert all(
        r.maxrate_kbps == round(1.5 * r.bitrate_kbps) and r.bufsize_kbps == 2 * r.bitrate_kbps
        for r in ladder
    )


def test_never_upscales_past_the_source() -> None:
    ladder = default_ladder(1280, 720, 25.0)
    assert max(r.height for r in ladder) == 720
    assert all(r.width <= 1280 and r.height <= 720 for r in ladder)
    small = default_ladder(200, 112, 25.0)  # smaller than the smallest rung
    assert [(r.width, r.height) for r in small] == [(200, 112)]


@pytest.mark.parametrize(
    "width, height",
    [(1920, 1080), (1920, 800), (1440, 1080), (1080, 1920), (1278, 720), (853, 480)],
)
def test_keeps_aspect_ratio_with_even_dimensions(width: int, height: int) -> None:
    for rung in default_ladder(width, height, 30.0):
        assert rung.width % 2 == 0 and rung.height % 2 == 0
        assert math.isclose(rung.width / rung.height, width / height, rel_tol=0.03)


def test_portrait_sources_use_the_box_on_its_side() -> None:
    ladder = default_ladder(1080, 1920, 30.0)
    assert (1080, 1920) in {(r.width, r.height) for r in ladder}
    assert all(r.height > r.width for r in ladder)


def test_wide_sources_spend_fewer_bits_on_fewer_pixels() -> None:
    scope = {(r.bitrate_kbps) for r in default_ladder(1920, 800, 24.0) if r.width == 1920}
    full = {(r.bitrate_kbps) for r in default_ladder(1920, 1080, 24.0) if r.width == 1920}
    assert max(scope) < max(full)


def test_high_frame_rates_only_on_720p_and_up() -> None:
    ladder = default_ladder(1920, 1080, 59.94)
    for rung in ladder:
        if rung.height < 720:
            assert rung.frame_rate == pytest.approx(29.97)
        else:
            assert rung.frame_rate == pytest.approx(59.94)
    assert default_ladder(1280, 720, 120.0)[-1].frame_rate == pytest.approx(60.0)


def test_max_rungs_keeps_top_and_bottom() -> None:
    full = default_ladder(1920, 1080, 25.0)
    thin = default_ladder(1920, 1080, 25.0, max_rungs=4)
    assert len(thin) == 4
    assert thin[0] == full[0] and thin[-1] == full[-1]


def test_codecs_strings_and_levels() -> None:
    top = default_ladder(1920, 1080, 25.0)[-1]
    assert top.codecs_tag == "avc1.640028"  # High profile, level 4.0
    assert h264_level(640, 360, 30.0) == 30
    assert default_ladder(1920, 1080, 25.0, codec="hevc")[-1].codecs_tag.startswith("hvc1.1.6.L")
    with pytest.raises(LadderError):
        default_ladder(1920, 1080, 25.0, codec="mpeg1")


def test_fit_and_even() -> None:
    assert even(233.4) == 234 and even(1) == 2
    width, height, scale = fit_to_box(1920, 1080, 640, 360)
    assert (width, height) == (640, 360) and scale == pytest.approx(1 / 3)
