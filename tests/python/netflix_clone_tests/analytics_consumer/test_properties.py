"""Invariants, checked with hypothesis over simulated sessions and arbitrary QoE inputs."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from netflix_clone.analytics_consumer.domain.closing import ClosingRule
from netflix_clone.analytics_consumer.domain.qoe import QoeInputs, qoe_score
from netflix_clone.analytics_consumer.domain.session import compute_session
from netflix_clone.analytics_consumer.domain.sessionizer import Sessionizer
from netflix_clone.tools.analytics.simulator import NETWORKS, simulate_session

sessions = st.builds(
    lambda seed, net, duration: simulate_session(
        random.Random(seed),
        sid="s",
        user_id="u",
        title_id="t",
        duration_s=duration,
        start_ms=10_000,
        network=NETWORKS[net],
    ),
    st.integers(0, 10**6),
    st.sampled_from(sorted(NETWORKS)),
    st.floats(30.0, 400.0),
)


@settings(max_examples=60, deadline=None)
@given(sessions)
def test_ratios_are_in_unit_interval(events) -> None:
    m = compute_session(events, "end")
    assert 0.0 <= m.rebuffering_ratio <= 1.0
    assert m.completion is None or 0.0 <= m.completion <= 1.0
    assert m.qoe_score is None or 0.0 <= m.qoe_score <= 100.0
    assert m.play_ms >= 0 and m.stall_ms >= 0


@settings(max_examples=60, deadline=None)
@given(sessions, st.randoms(use_true_random=False))
def test_duplicates_and_reordering_change_nothing(events, rnd) -> None:
    expected = compute_session(events, "end")
    noisy = events + [rnd.choice(events) for _ in range(len(events) // 3 + 1)]
    rnd.shuffle(noisy)
    assert compute_session(noisy, "end") == expected


@settings(max_examples=40, deadline=None)
@given(sessions, st.randoms(use_true_random=False))
def test_sessionizer_result_is_independent_of_order_within_the_window(events, rnd) -> None:
    def run(order):
        rule = ClosingRule(reorder_window_ms=5_000, inactivity_timeout_ms=10**9)
        sessionizer = Sessionizer(rule)
        closed = []
        for event in order:
            sessionizer.add(event, event.ts)  # received when sent
            closed += sessionizer.advance()
        return closed + sessionizer.close_all()

    baseline = run(events)
    # Shuffle only within windows shorter than the reorder window: swap neighbours < 1 s apart.
    jittered = sorted(events, key=lambda e: e.ts + rnd.uniform(-500, 500))
    jittered += [rnd.choice(events) for _ in range(5)]
    result = run(jittered)
    assert len(baseline) == len(result) == 1
    assert result[0] == baseline[0]


qoe_inputs = st.builds(
    QoeInputs,
    startup_ms=st.floats(0, 30_000),
    play_ms=st.floats(1_000, 7_200_000),
    stall_ms=st.floats(0, 600_000),
    stall_count=st.integers(0, 200),
    failed=st.just(False),
    exited_before_start=st.just(False),
)


def _score(inputs: QoeInputs) -> float:
    score = qoe_score(inputs)
    assert score is not None  # only exits before start have no score; these inputs never are
    return score


def _with(inputs: QoeInputs, **changes) -> QoeInputs:
    return QoeInputs(**{**inputs.__dict__, **changes})


@settings(max_examples=300, deadline=None)
@given(qoe_inputs, st.floats(0, 60_000))
def test_score_is_monotone_in_startup_time(inputs, more) -> None:
    assert _score(_with(inputs, startup_ms=(inputs.startup_ms or 0) + more)) <= _score(inputs)


@settings(max_examples=300, deadline=None)
@given(qoe_inputs, st.floats(0, 600_000))
def test_score_is_monotone_in_stall_time(inputs, more) -> None:
    count = max(1, inputs.stall_count)
    base = _with(inputs, stall_count=count)
    assert _score(_with(base, stall_ms=base.stall_ms + more)) <= _score(base)


@settings(max_examples=300, deadline=None)
@given(qoe_inputs, st.integers(1, 50), st.floats(0, 30_000))
def test_score_is_monotone_in_stall_count_at_equal_stall_length(inputs, extra, mean_ms) -> None:
    base = _with(inputs, stall_ms=inputs.stall_count * mean_ms)
    more = _with(base, stall_count=base.stall_count + extra, stall_ms=(base.stall_count + extra) * mean_ms)
    assert _score(more) <= _score(base)


@given(qoe_inputs)
def test_failure_is_the_worst_score(inputs) -> None:
    assert _score(_with(inputs, failed=True)) == 0.0 <= _score(inputs)
