from __future__ import annotations

import pytest

from netflix_clone.deploy.domain.analysis import AnalysisConfig, WindowMetrics, compare
from netflix_clone.deploy.domain.state import DeployState, other_color
from netflix_clone.deploy.domain.strategies import StrategyError, plan_steps

CONFIG = AnalysisConfig(min_requests=100)
BLUE = WindowMetrics(10_000, 10, (100.0, 104.0, 98.0, 101.0, 99.0))


def test_presets() -> None:
    assert [
        (s.green_weight, s.hold_s)
        for s in plan_steps("canary", canary_percent=10, canary_hold_s=600)
    ] == [(10, 600), (100, 0)]
    linear = plan_steps("linear", step_s=60)
    assert [s.green_weight for s in linear] == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert all(s.hold_s == 60 for s in linear[:-1])
    assert [s.green_weight for s in plan_steps("all-at-once")] == [100]
    assert [s.green_weight for s in plan_steps("custom", custom=[5, 25, 100])] == [5, 25, 100]


@pytest.mark.parametrize("custom", [[50, 25, 100], [10, 50], [0, 100], [10, 10, 100], None])
def test_bad_custom_steps(custom: list[int] | None) -> None:
    with pytest.raises(StrategyError):
        plan_steps("custom", custom=custom)


def test_equal_colours_pass() -> None:
    green = WindowMetrics(1_000, 1, (101.0, 99.0, 103.0, 100.0, 97.0))
    assert compare(green, BLUE, CONFIG).result == "pass"


def test_error_spike_fails_and_says_why() -> None:
    verdict = compare(WindowMetrics(1_000, 60, BLUE.p99_ms), BLUE, CONFIG)
    assert verdict.result == "fail"
    assert "5xx rate 6.00% on green vs 0.10% on blue" in verdict.reasons[0]


def test_small_but_significant_error_increase_is_marginal() -> None:
    verdict = compare(
        WindowMetrics(10_000, 60, BLUE.p99_ms), BLUE, CONFIG
    )  # 0.6 % vs 0.1 %: under the 1 % limit
    assert verdict.result == "marginal"


def test_error_noise_on_few_requests_is_not_significant() -> None:
    assert compare(WindowMetrics(200, 1, BLUE.p99_ms), BLUE, CONFIG).result == "pass"


def test_latency_regression_fails_only_when_consistent() -> None:
    slow = WindowMetrics(1_000, 1, (150.0, 160.0, 155.0, 149.0, 158.0))
    verdict = compare(slow, BLUE, CONFIG)
    assert verdict.result == "fail" and "Mann-Whitney" in verdict.reasons[0]
    # One slow period out of five: the median is fine.
    assert (
        compare(WindowMetrics(1_000, 1, (100.0, 300.0, 99.0, 102.0, 98.0)), BLUE, CONFIG).result
        == "pass"
    )


def test_absolute_latency_limit() -> None:
    green = WindowMetrics(1_000, 1, (101.0, 99.0, 103.0, 100.0, 97.0))
    assert compare(green, BLUE, AnalysisConfig(min_requests=100, max_p99_ms=80)).result == "fail"


@pytest.mark.parametrize(
    "green",
    [
        WindowMetrics(0, 0, ()),
        WindowMetrics(50, 0, (100.0,) * 5),
        WindowMetrics(5_000, 0, (100.0,)),
    ],
)
def test_no_data_is_never_a_pass(green: WindowMetrics) -> None:
    verdict = compare(green, BLUE, CONFIG)
    assert verdict.result == "nodata" and verdict.reasons[0].startswith("no data")


def test_state_round_trips() -> None:
    state = DeployState("d1", "svc", "production", "img@sha256:1")
    state.record(1.0, "shifting", "step 1")
    assert DeployState.from_json(state.to_json()) == state
    assert other_color("blue") == "green"
    with pytest.raises(ValueError):
        other_color("red")
