from __future__ import annotations

import math

import pytest

from netflix_clone.video_processor.domain.per_title import (
    PerTitleLimits,
    PlanError,
    TrialPoint,
    envelope,
    quality_at,
    rate_quality_hull,
    select_rungs,
)


def _curve(width: int, height: int, scale: float, ceiling: float) -> list[TrialPoint]:
    """A plausible rate-quality curve: VMAF rises with log-rate and saturates at the resolution's ceiling."""
    points = []
    for crf, kbps in ((35, 150.0), (29, 400.0), (23, 1200.0), (18, 3500.0)):
        rate = kbps * scale
        vmaf = ceiling * (1 - math.exp(-rate / (600.0 * scale)))
        points.append(TrialPoint(width, height, rate, vmaf, crf))
    return points


POINTS = _curve(416, 234, 0.5, 70.0) + _curve(640, 360, 0.8, 84.0) + _curve(1280, 720, 1.6, 97.0)


def test_hull_is_increasing_and_concave_in_log_rate() -> None:
    hull = rate_quality_hull(POINTS)
    rates = [p.bitrate_kbps for p in hull]
    quality = [p.vmaf for p in hull]
    assert rates == sorted(rates) and quality == sorted(quality)
    slopes = [
        (b.vmaf - a.vmaf) / (math.log2(b.bitrate_kbps) - math.log2(a.bitrate_kbps))
        for a, b in zip(hull, hull[1:])
    ]
    assert all(s1 >= s2 - 1e-9 for s1, s2 in zip(slopes, slopes[1:]))
    # Every trial point lies on or under the hull.
    for point in POINTS:
        if hull[0].bitrate_kbps <= point.bitrate_kbps <= hull[-1].bitrate_kbps:
            assert point.vmaf <= quality_at(hull, point.bitrate_kbps) + 1e-9


def test_dominated_points_are_dropped() -> None:
    points = [
        TrialPoint(640, 360, 500, 80),
        TrialPoint(1280, 720, 900, 78),
        TrialPoint(1280, 720, 2000, 92),
    ]
    hull = rate_quality_hull(points)
    assert TrialPoint(1280, 720, 900, 78) not in hull


def test_envelope_picks_the_best_resolution_per_bitrate() -> None:
    assert envelope(POINTS, 100.0)[0] == (416, 234)
    assert envelope(POINTS, 5000.0)[0] == (1280, 720)


def test_selected_rungs_follow_the_rules() -> None:
    limits = PerTitleLimits(
        min_bitrate_kbps=100,
        max_bitrate_kbps=6000,
        min_rungs=3,
        max_rungs=6,
        top_vmaf=95,
        vmaf_step=8,
    )
    rungs, _ = select_rungs(POINTS, limits, 25.0)
    assert limits.min_rungs <= len(rungs) <= limits.max_rungs
    rates = [r.bitrate_kbps for r in rungs]
    assert rates == sorted(rates)
    assert all(b >= a * limits.min_rate_ratio * 0.99 for a, b in zip(rates, rates[1:]))
    assert rates[0] >= limits.min_bitrate_kbps and rates[-1] <= limits.max_bitrate_kbps
    pixels = [r.width * r.height for r in rungs]
    assert pixels == sorted(pixels)  # resolution never drops as bitrate rises
    assert rungs[0].height < rungs[-1].height
    predicted = [r.predicted_vmaf for r in rungs]
    assert all(p is not None for p in predicted)
    assert predicted[-1] >= 90  # type: ignore[operator]


def test_top_rung_stops_where_quality_saturates() -> None:
    rungs, _ = select_rungs(POINTS, PerTitleLimits(top_vmaf=90, max_bitrate_kbps=20000), 25.0)
    assert rungs[-1].predicted_vmaf == pytest.approx(90, abs=0.5)
    assert rungs[-1].bitrate_kbps < 5600  # the highest trial is not needed to reach 90


def test_a_flat_simple_title_gets_a_short_cheap_ladder() -> None:
    # Cartoon-like content: every resolution is excellent at low rates.
    easy = [
        TrialPoint(w, h, r, q)
        for (w, h) in ((640, 360), (1280, 720))
        for r, q in ((100, 93), (300, 96), (900, 97))
    ]
    rungs, _ = select_rungs(easy, PerTitleLimits(min_rungs=1, max_rungs=6), 25.0)
    assert rungs[-1].bitrate_kbps < 1000
    assert len(rungs) <= 3


def test_limits_are_checked() -> None:
    with pytest.raises(PlanError):
        PerTitleLimits(min_bitrate_kbps=500, max_bitrate_kbps=100)
    with pytest.raises(PlanError):
        rate_quality_hull([])
