from __future__ import annotations

import math

import pytest

from netflix_clone.video_processor.domain.per_title import (
    PerTitleLimits,
    PlanError,
    TrialOptions,
    TrialPoint,
    calibrate,
    curve_at,
    envelope,
    plan_trials,
    quality_at,
    rate_quality_hull,
    select_rungs,
    trial_point,
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
        (b.vmaf - a.vmaf) / (math.log2(b.bitrate_kbps) - math.log2(a.bitrate_kbps)) for a, b in zip(hull, hull[1:])
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
    assert all(b <= a * limits.max_rate_ratio * 1.01 for a, b in zip(rates, rates[1:]))
    assert rates[0] >= limits.min_bitrate_kbps * 0.99 and rates[-1] <= limits.max_bitrate_kbps
    for rung in rungs:  # the prediction is the chosen size's own curve at the encoder's rate
        assert rung.predicted_vmaf == pytest.approx(
            curve_at(POINTS, (rung.width, rung.height), rung.encoder_kbps), abs=1.0
        )
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


def test_adjacent_rungs_are_at_most_twice_apart() -> None:
    """Issue 16: the top two per-title rungs were 3.5x apart (1.56 -> 5.52 Mbit/s)."""
    # Quality saturates early at 720p: spacing in VMAF alone would leave a wide top gap.
    points = _curve(640, 360, 0.8, 84.0) + [
        TrialPoint(1280, 720, r, q) for r, q in ((700, 86.0), (1500, 93.0), (6000, 95.5))
    ]
    limits = PerTitleLimits(top_vmaf=95, vmaf_step=6, max_rungs=8)
    rungs, _ = select_rungs(points, limits, 25.0)
    rates = [r.bitrate_kbps for r in rungs]
    assert all(b / a <= 2.0 * 1.01 for a, b in zip(rates, rates[1:])), rates
    # Too few rungs allowed for 2x steps over the range: equal steps, the bottom raised.
    few, _ = select_rungs(points, PerTitleLimits(top_vmaf=95, max_rungs=3, min_rungs=1), 25.0)
    rates = [r.bitrate_kbps for r in few]
    assert len(rates) <= 3 and all(b / a <= 2.0 * 1.01 for a, b in zip(rates, rates[1:]))


def test_source_cap_limits_the_top_rung() -> None:
    rungs, _ = select_rungs(POINTS, PerTitleLimits(max_bitrate_kbps=20000), 25.0, cap_for=lambda w, h, f: 1500.0)
    assert max(r.encoder_kbps for r in rungs) <= 1501


def test_trial_rates_are_corrected_to_the_ladders_keyframe_spacing() -> None:
    plan = plan_trials(60.0, 25.0, (1280, 720), [(640, 360), (1280, 720)], 2e7, 6, TrialOptions())
    # 2 chunks' worth of frames, one 40 kB keyframe each, 2 kB otherwise: the ladder has one
    # keyframe per 150 frames, so the title rate is near the inter-frame rate, not 60 % above it.
    sizes = [40000] + [2000] * 24 + [40000] + [2000] * 24
    keys = [True] + [False] * 24 + [True] + [False] * 24
    point = trial_point(1280, 720, 25, 90.0, sizes, keys, plan, 25.0)
    assert point.sample_kbps == pytest.approx(sum(sizes) * 8 / 2.0 / 1000)
    expected = (2000 * (1 - 1 / 150) + 40000 / 150) * 8 * 25 / 1000
    assert point.bitrate_kbps == pytest.approx(expected)


def test_calibration_scales_rates_by_the_titles_cost_for_the_same_quality() -> None:
    points = _curve(640, 360, 0.8, 84.0) + _curve(1280, 720, 1.6, 97.0)
    # On the whole title, 360p reached the quality the chunks reached at 400 kbit/s only at 520.
    vmaf_at_400 = curve_at(points, (640, 360), 400.0)
    factors, scaled = calibrate(points, (640, 360), [(520.0, vmaf_at_400)])
    assert len(factors) == 1 and factors[0][0] == vmaf_at_400
    assert factors[0][1] == pytest.approx(1.3, rel=1e-3)
    assert [p.bitrate_kbps for p in scaled] == pytest.approx([p.bitrate_kbps * 1.3 for p in points])
    assert [p.vmaf for p in scaled] == [p.vmaf for p in points]
    # Two calibration qualities: each point's factor follows its own VMAF, held beyond the ends.
    low = curve_at(points, (640, 360), 150.0)
    factors, scaled = calibrate(points, (640, 360), [(300.0, low), (520.0, vmaf_at_400)])
    assert [f for _, f in factors] == pytest.approx([2.0, 1.3], rel=1e-3)
    for before, after in zip(points, scaled):
        ratio = after.bitrate_kbps / before.bitrate_kbps
        assert 1.3 - 1e-6 <= ratio <= 2.0 + 1e-6
        if before.vmaf >= vmaf_at_400:
            assert ratio == pytest.approx(1.3)


def test_trial_plan_stays_within_its_cpu_budget() -> None:
    sizes = [(416, 234), (640, 360), (768, 432), (960, 540), (1280, 720)]
    ladder_pixels = sum(w * h * 25.0 for w, h in sizes)
    options = TrialOptions()
    short = plan_trials(5.3, 25.0, (1280, 720), sizes, ladder_pixels, 6, options)
    assert short.calibration is not None and short.calibration.seconds == pytest.approx(5.3)
    assert short.estimated_cpu_s <= options.budget_fraction * short.ladder_cpu_s * 1.01
    assert len(short.resolutions) == options.max_resolutions
    assert [s for s, _ in short.chunks] == sorted(s for s, _ in short.chunks)
    for start, length in short.chunks:  # on frame boundaries
        assert start * 25 == pytest.approx(round(start * 25)) and length * 25 == pytest.approx(round(length * 25))
    film = plan_trials(7200.0, 25.0, (1280, 720), sizes, ladder_pixels, 6, options)
    assert film.sample_s == pytest.approx(options.max_sample_s, abs=0.1)
    assert film.calibration is not None and film.calibration.seconds == pytest.approx(120, abs=0.1)
    assert film.estimated_cpu_s < 0.05 * film.ladder_cpu_s
    # Budget large enough for everything: the trials see the whole title, nothing to calibrate.
    whole = plan_trials(5.3, 25.0, (1280, 720), sizes, ladder_pixels, 6, TrialOptions(budget_fraction=50))
    assert whole.chunks == ((0.0, 5.3),) and whole.calibration is None


def test_a_flat_simple_title_gets_a_short_cheap_ladder() -> None:
    # Cartoon-like content: every resolution is excellent at low rates.
    easy = [
        TrialPoint(w, h, r, q) for (w, h) in ((640, 360), (1280, 720)) for r, q in ((100, 93), (300, 96), (900, 97))
    ]
    rungs, _ = select_rungs(easy, PerTitleLimits(min_rungs=1, max_rungs=6), 25.0)
    assert rungs[-1].bitrate_kbps < 1000
    assert len(rungs) <= 3


def test_limits_are_checked() -> None:
    with pytest.raises(PlanError):
        PerTitleLimits(min_bitrate_kbps=500, max_bitrate_kbps=100)
    with pytest.raises(PlanError):
        rate_quality_hull([])
