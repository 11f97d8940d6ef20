"""The regression statistics on known distributions, and the target checker."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import perf
import pytest

from perfstats import (
    append_history,
    check_targets,
    compare_counts,
    compare_paired,
    compare_runs,
    compare_samples,
    get_path,
    holm,
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
    assert compare_samples(_noisy(1.0, n=40, spread=0.01), _noisy(1.05, n=40, spread=0.01)).verdict == "no change"
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
    assert {t["benchmark"] for t in config["targets"]} <= set(perf.SUITES)
    assert {t["benchmark"] for t in config["tracked"]} == set(perf.SUITES)
    assert any("seed" in t["source"] for t in config["targets"])
    for tracked in config["tracked"]:
        if "samples" in tracked:
            assert tracked["samples"].startswith(tracked["metric"].rsplit(".", 1)[0])
    assert {"regression"} <= set(config)


def _rounds(
    rng: np.random.Generator, n: int, slowdown: float, drift: float, process_noise: float
) -> tuple[list[float], list[float]]:
    """Paired rounds: a machine state shared by both sides of a round (drift) and noise per process."""
    machine = np.exp(rng.normal(0, drift, size=n))
    base = machine * np.exp(rng.normal(0, process_noise, size=n))
    new = machine * (1 + slowdown) * np.exp(rng.normal(0, process_noise, size=n))
    return list(base), list(new)


def test_paired_rounds_stay_quiet_on_identical_code() -> None:
    rng = np.random.default_rng(1)
    # Machine state swinging by +-30 % between rounds and 5 % between processes, 8 rounds, 500 trials.
    verdicts = [compare_paired(*_rounds(rng, 8, 0.0, drift=0.3, process_noise=0.05)).verdict for _ in range(500)]
    # A false alarm needs >10 % AND 7-8 of 8 rounds one way: well under 1 % of identical pairs.
    assert verdicts.count("regression") <= 2
    assert verdicts.count("improvement") <= 2


def test_paired_rounds_catch_a_15_percent_slowdown_through_machine_drift() -> None:
    rng = np.random.default_rng(2)
    caught = [compare_paired(*_rounds(rng, 8, 0.15, drift=0.3, process_noise=0.02)) for _ in range(200)]
    assert sum(v.verdict == "regression" for v in caught) >= 190
    assert all(0.05 < v.change < 0.25 for v in caught)
    # The same slowdown judged on unpaired medians drowns in the +-30 % drift.
    rng = np.random.default_rng(2)
    unpaired = [compare_samples(*_rounds(rng, 8, 0.15, drift=0.3, process_noise=0.02)).verdict for _ in range(200)]
    assert unpaired.count("regression") < 100


def test_paired_direction_small_shifts_and_missing_rounds() -> None:
    base = [100.0, 90, 110, 95, 105, 100, 98, 102]
    assert compare_paired(base, [b * 0.8 for b in base], higher_is_better=True).verdict == "regression"
    assert compare_paired(base, [b * 1.2 for b in base], higher_is_better=True).verdict == "improvement"
    assert compare_paired(base, [b * 0.8 for b in base]).verdict == "improvement"
    # Consistent but below the 10 % threshold: not a regression.
    small = compare_paired(base, [b * 1.05 for b in base])
    assert small.verdict == "no change" and small.p_value < 0.01 and abs(small.change - 0.05) < 1e-9
    # Above the threshold in the median but only 5 of 8 rounds worse: noise.
    mixed = [b * f for b, f in zip(base, [1.3, 1.3, 1.3, 1.3, 1.3, 0.8, 0.8, 0.8])]
    assert compare_paired(base, mixed).verdict == "no change"
    assert compare_paired(base, base).verdict == "no change"
    holes = [float("nan"), 0.0, 90, 110]
    assert compare_paired(holes, [1.0, 1.0, 99, 121]).verdict == "insufficient data"


def test_check_and_compare_commands_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def report(scale: float) -> dict:
        return {
            "benchmark": "analytics",
            "metrics": {
                "latency": {"ms": {"p99": 8.0 * scale, "p99_blocks": _noisy(8.0 * scale)}},
                "qoe": {"per_session_us_median": 200.0, "runs": _noisy(200.0, n=5)},
                "throughput": {
                    "events_per_consumer_cpu_s": 200_000.0,
                    "redis_cpu_us_per_event": 4.0,
                },
            },
        }

    base, same, slow = tmp_path / "base.json", tmp_path / "same.json", tmp_path / "slow.json"
    base.write_text(json.dumps(report(1.0)))
    same.write_text(json.dumps(report(1.0)))
    slow.write_text(json.dumps(report(1.15)))
    assert perf.main(["check", str(base)]) == 0
    assert "pass" in capsys.readouterr().out
    assert perf.main(["compare", "--baseline", str(base), "--candidate", str(same)]) == 0
    assert perf.main(["compare", "--baseline", str(base), "--candidate", str(slow), "--markdown"]) == 1
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
        append_history(history, {"benchmark": "b", "environment": {"time": f"t{i}"}, "metrics": {"m": value}})
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


FAKE_SUITE = """
import json, os, sys
from pathlib import Path
args = sys.argv[1:]
assert args[:2] == ["run", "--only"] and "--no-fail" in args, args
name, out = args[2], Path(args[args.index("--out-dir") + 1])
slow = 1 + float(os.environ.get("NFC_BENCH_PLANTED_SLOWDOWN", "0"))
calls = Path(os.environ["FAKE_CALLS"])
with calls.open("a") as log:
    log.write(os.environ.get("SIDE", "?") + "\\n")
n = len(calls.read_text().split())
drift = 1 + 0.3 * (((n - 1) // 2) % 3)  # the machine changes between rounds, both sides alike
metrics = {"latency": {"ms": {"p99": 8.0 * drift * slow}},
           "throughput": {"events_per_consumer_cpu_s": 2e5 / drift / slow}}
if "--quick" in args:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps({"benchmark": name, "metrics": metrics}))
print("target table")
"""


def test_ab_alternates_sides_and_gates_on_the_planted_slowdown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "fake_perf.py"
    fake.write_text(FAKE_SUITE)
    calls = tmp_path / "calls"
    monkeypatch.setenv("FAKE_CALLS", str(calls))
    # Set for perf itself: must not leak into either side unless asked for per side.
    monkeypatch.setenv("NFC_BENCH_PLANTED_SLOWDOWN", "0.5")
    command = f"{sys.executable} {fake}"

    def ab(*extra: str) -> int:
        calls.write_text("")
        return perf.main(
            [
                "ab",
                "--baseline",
                command,
                "--candidate",
                command,
                "--baseline-env",
                "SIDE=A",
                "--candidate-env",
                "SIDE=B",
                "--only",
                "analytics",
                "--rounds",
                "10",
                "--out-dir",
                str(tmp_path / "out"),
                *extra,
            ]
        )

    assert ab() == 0
    assert calls.read_text().split() == ["A", "B", "B", "A"] * 5
    out = capsys.readouterr().out
    assert "latency.ms.p99" in out and "regression" not in out
    assert ab("--candidate-env", "NFC_BENCH_PLANTED_SLOWDOWN=0.15", "--json") == 1
    result = json.loads(capsys.readouterr().out)
    by_metric = {v["metric"]: v for v in result["verdicts"]}
    assert by_metric["latency.ms.p99"]["verdict"] == "regression"
    assert by_metric["latency.ms.p99"]["change"] == pytest.approx(0.15)
    assert by_metric["throughput.events_per_consumer_cpu_s"]["verdict"] == "regression"
    assert result["values"]["analytics:latency.ms.p99"]["baseline"][:3] == pytest.approx([8.0, 10.4, 12.8])
    assert json.loads((tmp_path / "out" / "ab.json").read_text())["rounds"] == 10
    # A side that produces no report stops the gate with the command that failed, even where an
    # earlier run into the same directory left one.
    calls.write_text("")
    with pytest.raises(SystemExit, match="failed with exit code 0"):
        perf.main(
            [
                "ab",
                "--baseline",
                command,
                "--candidate",
                command,
                "--only",
                "analytics",
                "--full",
                "--out-dir",
                str(tmp_path / "out"),
            ]
        )


def test_ab_refuses_too_few_rounds_to_reach_the_significance_level() -> None:
    # The exact signed-rank test over n rounds cannot go below p = 2**-n, and Holm asks the best of m
    # wall-clock metrics for p < alpha/m: the shipped targets decide m, so the bound is derived here
    # independently (e.g. 12 metrics at 0.01 -> p < 0.00083 -> 11 rounds, as 2**-10 = 0.00098).
    config = perf.load_config()
    alpha = float(config.get("regression", {}).get("alpha", 0.01))
    for only in (None, "analytics"):
        names = only.split(",") if only else list(perf.TIMED)
        family = sum(1 for t in config["tracked"] if t["benchmark"] in names and not t.get("deterministic"))
        assert family >= 2, "the tracked metrics define a family to correct for"
        needed = next(n for n in range(1, 64) if 2.0**-n < alpha / family)
        argv = ["ab", "--baseline", "x", "--candidate", "y", "--rounds", str(needed - 1)]
        with pytest.raises(SystemExit, match=f"/{family} metrics; use at least {needed} rounds"):
            perf.main(argv + (["--only", only] if only else []))


def test_holm_controls_the_family_and_keeps_order() -> None:
    assert holm([0.001, 0.04, float("nan"), 0.03]) == pytest.approx([0.003, 0.06, float("nan"), 0.06], nan_ok=True)
    assert holm([0.5, 0.9]) == [1.0, 1.0]
    assert not holm([])


def test_an_ab_family_of_ten_metrics_does_not_flag_one_lucky_metric() -> None:
    # Eight rounds with every round worse on one metric of ten: p = 1/256 alone, not after Holm.
    base: dict[str, dict[str, list[dict[str, Any]]]] = {"recommendations": {"baseline": [], "candidate": []}}
    for r in range(8):
        metrics = {"lat": {"a": 1.0, "b": 1.0}}
        base["recommendations"]["baseline"].append({"metrics": metrics})
        base["recommendations"]["candidate"].append(
            {"metrics": {"lat": {"a": 1.3 + 0.01 * r, "b": 1.0 + (0.01 if r % 2 else -0.01)}}}
        )
    config: dict[str, Any] = {
        "tracked": [
            {"benchmark": "recommendations", "metric": "lat.a"},
            *({"benchmark": "recommendations", "metric": "lat.b"} for _ in range(9)),
        ],
        "regression": {"threshold": 0.10, "alpha": 0.01},
    }
    verdicts = perf.compare_ab(base, config)
    assert verdicts[0][1].change > 0.25 and verdicts[0][1].p_value == pytest.approx(10 / 256)
    assert all(v.verdict == "no change" for _, v in verdicts)
    # The same shift judged alone is a regression.
    config["tracked"] = config["tracked"][:1]
    assert perf.compare_ab(base, config)[0][1].verdict == "regression"


def test_instruction_counts_use_the_threshold_unless_the_counts_do_not_repeat() -> None:
    same = compare_counts([1_000_000, 1_000_010], [1_000_020, 999_990])
    assert same.verdict == "no change" and abs(same.change) < 1e-4 and np.isnan(same.p_value)
    planted = compare_counts([1_000_000, 1_000_000], [1_150_000, 1_150_000])
    assert planted.verdict == "regression" and planted.change == pytest.approx(0.15)
    assert compare_counts([100.0], [85.0]).verdict == "improvement"
    assert compare_counts([100.0], [109.0]).verdict == "no change"
    # Counts that differ by 4 % between identical runs cannot support a 15 % verdict (bar: 5 x 4 %).
    assert compare_counts([100.0, 104.0], [117.0, 117.0]).verdict == "no change"
    assert compare_counts([], [1.0]).verdict == "insufficient data"


def test_compare_gates_instruction_counts_from_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def report(per_op: float) -> dict:
        kernels = {
            name: {"per_op": per_op, "repeats": [per_op, per_op]} for name in ("predict_single", "topn_exact_20k")
        }
        return {"benchmark": "instructions", "metrics": {"kernels": kernels}}

    base, same, slow = (tmp_path / f"{n}.json" for n in ("base", "same", "slow"))
    base.write_text(json.dumps(report(5000.0)))
    same.write_text(json.dumps(report(5001.0)))
    slow.write_text(json.dumps(report(5750.0)))
    assert perf.main(["compare", "--baseline", str(base), "--candidate", str(same)]) == 0
    assert "kernels.predict_single.per_op" in capsys.readouterr().out
    assert perf.main(["compare", "--baseline", str(base), "--candidate", str(slow), "--json"]) == 1
    verdicts = json.loads(capsys.readouterr().out)["verdicts"]
    assert {v["metric"]: v["verdict"] for v in verdicts if v["baseline_median"]} == {
        "kernels.predict_single.per_op": "regression",
        "kernels.topn_exact_20k.per_op": "regression",
    }
    assert verdicts[0]["p_value"] is None


def test_revision_names_the_newest_run_with_a_revision(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = tmp_path / "h.jsonl"
    assert perf.main(["revision", "--history", str(history)]) == 1
    append_history(history, {"benchmark": "a", "environment": {"git_revision": "abc"}})
    append_history(history, {"benchmark": "b", "environment": {"git_revision": "def"}})
    append_history(history, {"benchmark": "c", "environment": {"git_revision": None}})
    capsys.readouterr()
    assert perf.main(["revision", "--history", str(history)]) == 0
    assert capsys.readouterr().out.strip() == "def"
