"""Target checks, noise-aware regression verdicts, history and plots for benchmark reports.

A regression is declared only when a metric is worse by more than the threshold (10 %) AND a one-sided
rank test says the shift is unlikely to be noise (p < alpha). Either alone cries wolf on a shared machine
or misses real changes.

Two designs, for two questions:

* `compare_paired` (the wall-clock gate): baseline and candidate run in alternating rounds on the same
  machine in one job, so whatever the machine is doing hits both alike. Each round gives one paired ratio
  per metric; the change is the median ratio and the test is the exact one-sided Wilcoxon signed-rank
  test over rounds, its p-values Holm-adjusted over all the metrics judged together (`holm`).
  The unit of replication is the process: samples inside one process share its memory layout, CPU state
  and neighbours, and two processes of identical code differ by far more than their inner spread.
* `compare_counts` (the sharp gate): instruction counts from valgrind do not move with machine load, so
  a plain threshold applies, raised only if repeated counts of the same code disagree.
* `compare_runs` / `compare_samples` (the trend): a new run against stored runs from earlier jobs, a
  Mann-Whitney test over repeated samples with the spread between baseline runs as the floor. Different
  jobs may land on different hosts, so this reports drift over time rather than gating a change.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
from scipy.stats import mannwhitneyu, wilcoxon

__all__ = [
    "TargetResult",
    "Verdict",
    "append_history",
    "check_targets",
    "compare_counts",
    "compare_paired",
    "compare_runs",
    "compare_samples",
    "get_path",
    "holm",
    "read_history",
    "render_plot",
]

OPS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def get_path(report: Mapping[str, Any], path: str) -> Any:
    """`metrics.a.b` lookup inside a report; None when any step is missing."""
    node: Any = report.get("metrics", report)
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


@dataclass(frozen=True)
class TargetResult:
    benchmark: str
    metric: str
    op: str
    target: float
    value: Optional[float]
    source: str

    @property
    def status(self) -> str:
        if self.value is None or (isinstance(self.value, float) and math.isnan(self.value)):
            return "missing"
        return "pass" if OPS[self.op](self.value, self.target) else "FAIL"


def check_targets(reports: Mapping[str, Mapping[str, Any]], targets: Iterable[Mapping[str, Any]]) -> list[TargetResult]:
    results = []
    for t in targets:
        report = reports.get(t["benchmark"])
        value = get_path(report, t["metric"]) if report is not None else None
        results.append(
            TargetResult(
                t["benchmark"],
                t["metric"],
                t["op"],
                float(t["value"]),
                float(value) if isinstance(value, (int, float)) else None,
                t.get("source", ""),
            )
        )
    return results


@dataclass(frozen=True)
class Verdict:
    verdict: str  # "regression", "improvement", "no change", "insufficient data"
    change: float  # relative change of the median, signed so that positive = worse
    p_value: float
    base_median: float
    new_median: float


def compare_samples(
    base: Sequence[float],
    new: Sequence[float],
    *,
    higher_is_better: bool = False,
    threshold: float = 0.10,
    alpha: float = 0.01,
) -> Verdict:
    b = np.asarray(base, dtype=np.float64)
    n = np.asarray(new, dtype=np.float64)
    if b.size < 3 or n.size < 3:
        med_b = float(np.median(b)) if b.size else math.nan
        med_n = float(np.median(n)) if n.size else math.nan
        return Verdict("insufficient data", math.nan, math.nan, med_b, med_n)
    med_b, med_n = float(np.median(b)), float(np.median(n))
    worse = (med_b - med_n) / med_b if higher_is_better else (med_n - med_b) / med_b
    # One-sided: is `new` stochastically worse (greater latency / smaller throughput) than `base`?
    alt_worse = "less" if higher_is_better else "greater"
    alt_better = "greater" if higher_is_better else "less"
    p_worse = float(mannwhitneyu(n, b, alternative=alt_worse).pvalue)
    p_better = float(mannwhitneyu(n, b, alternative=alt_better).pvalue)
    if worse > threshold and p_worse < alpha:
        return Verdict("regression", worse, p_worse, med_b, med_n)
    if -worse > threshold and p_better < alpha:
        return Verdict("improvement", worse, p_better, med_b, med_n)
    return Verdict("no change", worse, min(p_worse, p_better), med_b, med_n)


def compare_runs(
    base_runs: Sequence[Sequence[float]],
    new: Sequence[float],
    *,
    higher_is_better: bool = False,
    threshold: float = 0.10,
    alpha: float = 0.01,
) -> Verdict:
    """Compare a candidate run with several baseline runs of the same metric.

    Samples within one run share that run's machine state, so they understate the noise between runs.
    The baseline runs are pooled for the rank test, and the shift must also exceed the spread already
    seen between baseline runs (max - min of their medians, relative to the pooled median): a change the
    baseline itself shows between identical runs is not a regression. With one baseline run the spread
    is unknown and the plain threshold applies.
    """
    runs = [list(r) for r in base_runs if len(r)]
    pooled = [x for r in runs for x in r]
    if not pooled:
        return compare_samples([], new)
    medians = [float(np.median(r)) for r in runs]
    center = float(np.median(pooled))
    spread = (max(medians) - min(medians)) / center if len(runs) > 1 and center else 0.0
    return compare_samples(
        pooled,
        new,
        higher_is_better=higher_is_better,
        threshold=max(threshold, spread),
        alpha=alpha,
    )


def compare_counts(
    base: Sequence[float],
    new: Sequence[float],
    *,
    threshold: float = 0.10,
    noise_multiple: float = 5.0,
) -> Verdict:
    """Verdict for deterministic measures (instruction counts; lower is better).

    The bar is the threshold, or `noise_multiple` times the relative spread between repeated counts of
    the same code when that is larger (a count that is not reproducible must not pass for a verdict).
    There is no sampling distribution to test, so `p_value` is NaN.
    """
    b = np.asarray([x for x in base if math.isfinite(x)], dtype=np.float64)
    n = np.asarray([x for x in new if math.isfinite(x)], dtype=np.float64)
    if b.size == 0 or n.size == 0:
        med_b = float(np.median(b)) if b.size else math.nan
        med_n = float(np.median(n)) if n.size else math.nan
        return Verdict("insufficient data", math.nan, math.nan, med_b, med_n)
    med_b, med_n = float(np.median(b)), float(np.median(n))
    spread = max(float(np.ptp(b)) / med_b, float(np.ptp(n)) / med_n)
    limit = max(threshold, noise_multiple * spread)
    change = med_n / med_b - 1.0
    if change > limit:
        return Verdict("regression", change, math.nan, med_b, med_n)
    if -change > limit:
        return Verdict("improvement", change, math.nan, med_b, med_n)
    return Verdict("no change", change, math.nan, med_b, med_n)


def compare_paired(
    base: Sequence[float],
    new: Sequence[float],
    *,
    higher_is_better: bool = False,
    threshold: float = 0.10,
    alpha: float = 0.01,
    min_rounds: int = 5,
) -> Verdict:
    """Verdict over interleaved rounds: `base[i]` and `new[i]` were measured back to back in round i.

    `change` is the median over rounds of the per-round relative change (positive = worse), `p_value` the
    exact one-sided Wilcoxon signed-rank p-value of the per-round log-ratios. With n rounds the smallest
    attainable p is 2**-n (1/256 for 8), reached only when the candidate is worse in every round.
    Rounds where either side is missing or not positive are dropped; fewer than `min_rounds` left is
    "insufficient data".
    """
    pairs = [
        (float(b), float(n))
        for b, n in zip(base, new)
        if math.isfinite(float(b)) and math.isfinite(float(n)) and b > 0 and n > 0
    ]
    med_b = float(np.median([b for b, _ in pairs])) if pairs else math.nan
    med_n = float(np.median([n for _, n in pairs])) if pairs else math.nan
    if len(pairs) < min_rounds:
        return Verdict("insufficient data", math.nan, math.nan, med_b, med_n)
    logs = np.array([math.log(n / b) for b, n in pairs])
    worse_logs = -logs if higher_is_better else logs
    change = math.expm1(float(np.median(worse_logs)))
    if not np.any(worse_logs):
        return Verdict("no change", 0.0, 1.0, med_b, med_n)
    p_worse = float(wilcoxon(worse_logs, alternative="greater", method="exact").pvalue)
    p_better = float(wilcoxon(worse_logs, alternative="less", method="exact").pvalue)
    if change > threshold and p_worse < alpha:
        return Verdict("regression", change, p_worse, med_b, med_n)
    if -change > threshold and p_better < alpha:
        return Verdict("improvement", change, p_better, med_b, med_n)
    return Verdict("no change", change, min(p_worse, p_better), med_b, med_n)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN and does not count towards the family size).

    One A/B judges ten metrics at once; at p < 0.01 each, a run of identical code would flag one of them
    every few dozen runs. Holm keeps the chance of any false flag in the whole family below alpha.
    """
    finite = sorted((p, i) for i, p in enumerate(p_values) if math.isfinite(p))
    m = len(finite)
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(finite):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def append_history(path: Path, report: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(report, sort_keys=True) + "\n")


def read_history(path: Path, benchmark: Optional[str] = None) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            entry = json.loads(line)
            if benchmark is None or entry.get("benchmark") == benchmark:
                entries.append(entry)
    return entries


def render_plot(entries: Sequence[Mapping[str, Any]], metric: str, title: str) -> str:
    """A self-contained HTML page with an SVG line chart of `metric` over the history entries."""
    points = [(e.get("environment", {}).get("time", str(i)), get_path(e, metric)) for i, e in enumerate(entries)]
    points = [(t, float(v)) for t, v in points if isinstance(v, (int, float))]
    width, height, pad = 720, 300, 40
    body = "<p>no data</p>"
    if points:
        values = [v for _, v in points]
        low, high = min(values), max(values)
        span = (high - low) or abs(high) or 1.0
        step = (width - 2 * pad) / max(1, len(points) - 1)
        xy = [(pad + i * step, height - pad - (v - low) / span * (height - 2 * pad)) for i, (_, v) in enumerate(points)]
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        dots = "".join(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3"><title>{html.escape(t)}: {v:.6g}</title></circle>'
            for (x, y), (t, v) in zip(xy, points)
        )
        body = (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
            f'<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{line}"/>{dots}'
            f'<text x="{pad}" y="{pad - 10}">max {high:.6g}</text>'
            f'<text x="{pad}" y="{height - 10}">min {low:.6g}</text></svg>'
        )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(metric)}, {len(points)} runs</p>{body}</body></html>"
    )
