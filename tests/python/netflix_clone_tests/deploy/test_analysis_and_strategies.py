from __future__ import annotations

import pytest

from netflix_clone.deploy.domain.analysis import AnalysisConfig, WindowMetrics, compare, pooled_baseline
from netflix_clone.deploy.domain.state import (
    DeployState,
    IllegalTransition,
    Phase,
    Revision,
    other_color,
    recovery_plan,
)
from netflix_clone.deploy.domain.strategies import StrategyError, parse_steps, plan_steps

CONFIG = AnalysisConfig(min_requests=100)
BLUE = WindowMetrics(10_000, 10, (100.0, 104.0, 98.0, 101.0, 99.0))


def test_presets() -> None:
    assert [(s.green_weight, s.hold_s) for s in plan_steps("canary", canary_percent=10, canary_hold_s=600)] == [
        (10, 600),
        (100, 0),
    ]
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
    verdict = compare(WindowMetrics(10_000, 60, BLUE.p99_ms), BLUE, CONFIG)  # 0.6 % vs 0.1 %: under the 1 % limit
    assert verdict.result == "marginal"


def test_error_noise_on_few_requests_is_not_significant() -> None:
    assert compare(WindowMetrics(200, 1, BLUE.p99_ms), BLUE, CONFIG).result == "pass"


def test_latency_regression_fails_only_when_consistent() -> None:
    slow = WindowMetrics(1_000, 1, (150.0, 160.0, 155.0, 149.0, 158.0))
    verdict = compare(slow, BLUE, CONFIG)
    assert verdict.result == "fail" and "Mann-Whitney" in verdict.reasons[0]
    # One slow period out of five: the median is fine.
    assert compare(WindowMetrics(1_000, 1, (100.0, 300.0, 99.0, 102.0, 98.0)), BLUE, CONFIG).result == "pass"


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
    state.known_good = Revision("blue", "td:1", 2)
    state.transition(1.0, Phase.GREEN_DEPLOYING, "green up")
    assert DeployState.from_json(state.to_json()) == state
    assert other_color("blue") == "green"
    with pytest.raises(ValueError):
        other_color("red")


def test_records_written_before_known_good_existed_still_load() -> None:
    legacy = (
        '{"deploy_id": "d0", "service": "svc", "environment": "production", "image": "i", '
        '"phase": "shifting", "live_color": "green", "previous_task_definition": "td:7", '
        '"desired_count": 3, "events": [], "verdicts": [], "strategy": []}'
    )
    state = DeployState.from_json(legacy)
    assert state.phase is Phase.SHIFTING and state.known_good == Revision("green", "td:7", 3)


@pytest.mark.parametrize(
    ("before", "after", "legal"),
    [
        (Phase.STARTED, Phase.GREEN_DEPLOYING, True),
        (Phase.SHIFTING, Phase.SHIFTING, True),
        (Phase.SHIFTING, Phase.RETIRING_BLUE, False),  # the bake cannot be skipped
        (Phase.GREEN_HEALTHY, Phase.SHIFTING, False),  # nor the green tests
        (Phase.RETIRING_BLUE, Phase.ROLLING_BACK, True),
        (Phase.ROLLING_BACK, Phase.SUCCEEDED, False),  # a rollback never turns into a success
        (
            Phase.SUCCEEDED,
            Phase.ROLLING_BACK,
            False,
        ),  # a finished deploy is reverted by a new record
        (Phase.ROLLED_BACK, Phase.STARTED, False),
    ],
)
def test_transitions(before: Phase, after: Phase, legal: bool) -> None:
    state = DeployState("d1", "svc", "production", "i", phase=before)
    if legal:
        state.transition(0.0, after, "x")
        assert state.phase is after and state.events[-1].phase == after.value
    else:
        with pytest.raises(IllegalTransition):
            state.transition(0.0, after, "x")
        assert state.phase is before and not state.events


@pytest.mark.parametrize(
    ("phase", "kind", "scale_up_first"),
    [
        (Phase.STARTED, "deploy", False),
        (
            Phase.SHIFTING,
            "deploy",
            False,
        ),  # blue was never scaled down: traffic can go straight back
        (Phase.BAKING, "deploy", False),
        (Phase.RETIRING_BLUE, "deploy", True),  # blue may already be at 0 tasks
        (Phase.ROLLING_BACK, "deploy", True),  # unknown how far the cut-off rollback got
        (Phase.STARTED, "rollback", True),  # a rollback reaches back to a retired colour
    ],
)
def test_recovery_plan_per_phase(phase: Phase, kind: str, scale_up_first: bool) -> None:
    state = DeployState("d1", "svc", "production", "i", kind=kind, phase=phase)
    state.known_good = Revision("green", "td:3", 4)
    plan = recovery_plan(state)
    assert plan.target == Revision("green", "td:3", 4) and plan.abandon_color == "blue"
    assert plan.scale_up_first is scale_up_first
    steps = plan.steps()
    assert steps[1] == "move 100% of traffic to green" and steps[2] == "scale blue to 0"


def test_no_baseline_is_no_data() -> None:
    green = WindowMetrics(1_000, 1, (101.0, 99.0, 103.0))
    verdict = compare(green, WindowMetrics(0, 0, ()), CONFIG)
    assert verdict.result == "nodata" and "no baseline" in verdict.reasons[0]
    small = compare(green, WindowMetrics(40, 0, (100.0, 100.0, 100.0)), CONFIG)
    assert small.result == "nodata"  # a baseline below min_requests is no baseline either
    pooled = pooled_baseline([WindowMetrics(60, 0, (100.0,)), WindowMetrics(60, 0, (102.0, 98.0))])
    assert compare(green, pooled, CONFIG).result == "pass"


@pytest.mark.parametrize("text", ["5,200", "50,25", "5,x", "0,100", "10,50", "", "5,,100"])
def test_parse_steps_rejects(text: str) -> None:
    with pytest.raises(StrategyError):
        parse_steps(text)
