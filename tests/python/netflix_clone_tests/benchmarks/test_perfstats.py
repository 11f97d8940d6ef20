"""The regression statistics on known distributions, and the target checker."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import perf
from perfstats import (
    append_history,
    check_targets,
    compare_runs,
    compare_samples,
    get_path,
    read_history,
    render_plot,
)

RNG = np.random.default_rng(0)


def _noisy(median: float, n: int = 10, spread: float = 0.03) -> list[float]:
    return list(median * (1 + RNG.normal(0, spread, size=n)))


def test_same_distribution_is_quiet() -> None:
    quiet = [compare_samples(_noisy(1.0), _noisy(1.0)).verdict for _ in range(50)]
    assert quiet.count("regression") == 0


def test_a_15_percent_slowdown_is_a_regression() -> None:
    v = compare_samples(_noisy(1.0), _noisy(1.15))
    assert v.verdict == "regression" and 0.10 < v.change < 0.22 and v.p_value < 0.01


def test_throughput_direction_is_respected() -> None:
    assert compare_samples(_noisy(100), _noisy(84), higher_is_better=True).verdict == "regression"
    assert compare_samples(_noisy(100), _noisy(120), higher_is_better=True).verdict == "improvement"
    assert compare_samples(_noisy(1.0), _noisy(0.8)).verdict == "improvement"


def test_small_shifts_and_noisy_shifts_are_not_regressions() -> None:
    # Significant but below the 10 % threshold.
    assert (
        compare_samples(_noisy(1.0, n=40, spread=0.01), _noisy(1.05, n=40, spread=0.01)).verdict
        == "no change"
    )
    # Above the threshold on the medians but far too noisy to tell from three samples each.
    assert compare_samples([1.0, 2.0, 0.5], [1.3, 0.6, 2.2]).verdict == "no change"
    assert compare_samples([1.0], [2.0]).verdict == "insufficient data"


def test_between_run_spread_of_the_baseline_raises_the_bar() -> None:
    # Two identical-code baseline runs whose medians differ by 30 % (machine state): a third run at
    # +14 % on the pooled median is noise, not a regression, although one baseline run alone says so.
    base_runs = [_noisy(1.0), _noisy(1.3)]
    candidate = _noisy(1.3)
    assert compare_samples(base_runs[0], candidate).verdict == "regression"
    assert compare_runs(base_runs, candidate).verdict == "no change"
    # A stable baseline keeps the plain 10 % threshold, and a real slowdown beyond the spread is caught.
    assert compare_runs([_noisy(1.0), _noisy(1.02)], _noisy(1.15)).verdict == "regression"
    assert compare_runs([_noisy(1.0), _noisy(1.3)], _noisy(1.8)).verdict == "regression"


def test_targets_pass_fail_and_missing() -> None:
    reports = {"r": {"metrics": {"lat": {"p99": 4.0}, "tput": 9.0}}}
    targets = [
        {"benchmark": "r", "metric": "lat.p99", "op": "<=", "value": 5},
        {"benchmark": "r", "metric": "tput", "op": ">=", "value": 10},
        {"benchmark": "r", "metric": "nope", "op": "<", "value": 1},
        {"benchmark": "other", "metric": "x", "op": "<", "value": 1},
    ]
    assert [r.status for r in check_targets(reports, targets)] == [
        "pass",
        "FAIL",
        "missing",
        "missing",
    ]
    assert get_path(reports["r"], "lat.p99") == 4.0 and get_path(reports["r"], "lat.p50") is None


def test_the_targets_file_names_metrics_the_benchmarks_produce() -> None:
    config = perf.load_config()
    assert {t["benchmark"] for t in config["targets"]} == {"recommendations", "analytics"}
    assert any("seed" in t["source"] for t in config["targets"])
    for tracked in config["tracked"]:
        assert tracked["samples"].startswith(tracked["metric"].rsplit(".", 1)[0])


def test_check_and_compare_commands_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def report(scale: float) -> dict:
        return {
            "benchmark": "analytics",
            "metrics": {
                "latency": {"ms": {"p99": 8.0 * scale, "p99_blocks": _noisy(8.0 * scale)}},
                "qoe": {"per_session_us_median": 200.0, "runs": _noisy(200.0, n=5)},
                "throughput": {"events_per_consumer_cpu_s": 200_000.0},
            },
        }

    base, same, slow = tmp_path / "base.json", tmp_path / "same.json", tmp_path / "slow.json"
    base.write_text(json.dumps(report(1.0)))
    same.write_text(json.dumps(report(1.0)))
    slow.write_text(json.dumps(report(1.15)))
    assert perf.main(["check", str(base)]) == 0
    assert "pass" in capsys.readouterr().out
    assert perf.main(["compare", "--baseline", str(base), "--candidate", str(same)]) == 0
    assert (
        perf.main(["compare", "--baseline", str(base), "--candidate", str(slow), "--markdown"]) == 1
    )
    out = capsys.readouterr().out
    assert "| analytics | latency.ms.p99 |" in out and "regression" in out
    slow_targets = tmp_path / "t.json"
    slow_targets.write_text(
        json.dumps(
            {
                "targets": [
                    {
                        "benchmark": "analytics",
                        "metric": "latency.ms.p99",
                        "op": "<=",
                        "value": 1,
                        "source": "x",
                    }
                ],
                "tracked": [],
            }
        )
    )
    assert perf.main(["check", str(base), "--targets", str(slow_targets)]) == 1


def test_history_and_plot(tmp_path: Path) -> None:
    history = tmp_path / "h.jsonl"
    for i, value in enumerate([1.0, 1.2, 0.9]):
        append_history(
            history, {"benchmark": "b", "environment": {"time": f"t{i}"}, "metrics": {"m": value}}
        )
    append_history(history, {"benchmark": "other", "metrics": {"m": 5}})
    entries = read_history(history, "b")
    assert [e["metrics"]["m"] for e in entries] == [1.0, 1.2, 0.9]
    page = render_plot(entries, "m", "b: m")
    assert page.count("<circle") == 3 and "<polyline" in page and "max 1.2" in page
    assert (
        perf.main(
            [
                "plot",
                "--history",
                str(history),
                "--benchmark",
                "b",
                "--metric",
                "m",
                "--out",
                str(tmp_path / "p.html"),
            ]
        )
        == 0
    )
    assert (tmp_path / "p.html").read_text().startswith("<!doctype html>")
