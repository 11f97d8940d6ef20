"""Green against blue over one analysis window: pass, marginal, fail - or no data, which never passes.

Two metrics, per target group, as the load balancer reports them:

* 5xx rate: a one-sided exact binomial test asks whether green's error count is higher than blue's
  rate explains. Fail when it is, *and* green exceeds the absolute ceiling; marginal when it is
  significantly higher but under the ceiling.
* p99 latency: the window's per-period p99 values of each colour are compared with a one-sided
  Mann-Whitney U test (as Kayenta's judge does). Fail when green's median p99 is worse by more than
  the tolerance and the test is significant (or above the absolute SLO); marginal when worse by more
  than the tolerance without significance.

A colour that served fewer than ``min_requests`` requests, or gave fewer than ``min_latency_samples``
latency periods, yields *nodata*: a window with no evidence is never a pass. That holds for the
baseline too: green is only ever judged *against* something. Once green takes all the traffic, blue
serves nothing, so the baseline becomes :func:`pooled_baseline` - blue's windows from before the
first shift and from every earlier step, summed - and it must itself reach ``min_requests``.

Example::

    >>> cfg = AnalysisConfig(min_requests=100, min_latency_samples=1)
    >>> compare(WindowMetrics(500, 1, (120.0,)), WindowMetrics(0, 0, ()), cfg).result
    'nodata'
    >>> blue = pooled_baseline([WindowMetrics(60, 0, (110.0,)), WindowMetrics(60, 1, (115.0,))])
    >>> blue.requests, blue.errors_5xx, len(blue.p99_ms)
    (120, 1, 2)
    >>> compare(WindowMetrics(500, 1, (120.0,)), blue, cfg).result
    'pass'
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

__all__ = ["AnalysisConfig", "Verdict", "WindowMetrics", "compare", "pooled_baseline"]


@dataclass(frozen=True)
class WindowMetrics:
    requests: int
    errors_5xx: int
    p99_ms: tuple[float, ...] = ()  # one value per metric period in the window

    @property
    def error_rate(self) -> float:
        return self.errors_5xx / self.requests if self.requests else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "errors_5xx": self.errors_5xx,
            "error_rate": round(self.error_rate, 5),
            "p99_ms_median": round(statistics.median(self.p99_ms), 2) if self.p99_ms else None,
            "p99_samples": len(self.p99_ms),
        }


@dataclass(frozen=True)
class AnalysisConfig:
    min_requests: int = 100
    min_latency_samples: int = 3
    max_error_rate: float = 0.01
    min_error_excess: float = 0.002  # below this, a significant difference is not worth a marginal
    latency_tolerance: float = 0.20  # green p99 may be 20 % worse before it counts
    max_p99_ms: Optional[float] = None  # absolute SLO, if any
    alpha: float = 0.05


@dataclass(frozen=True)
class Verdict:
    result: str  # pass | marginal | fail | nodata
    reasons: tuple[str, ...]
    green: WindowMetrics
    blue: WindowMetrics
    details: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "result": self.result,
            "reasons": list(self.reasons),
            "green": self.green.as_dict(),
            "blue": self.blue.as_dict(),
            "details": {k: (round(v, 6) if math.isfinite(v) else None) for k, v in self.details.items()},
        }


def pooled_baseline(windows: Sequence[WindowMetrics]) -> WindowMetrics:
    """Several baseline windows as one: requests and errors summed, latency periods concatenated."""
    return WindowMetrics(
        sum(w.requests for w in windows),
        sum(w.errors_5xx for w in windows),
        tuple(v for w in windows for v in w.p99_ms),
    )


def _error_p_value(green: WindowMetrics, blue: WindowMetrics) -> float:
    """One-sided p-value that green's errors come from a higher rate than blue's.

    An exact binomial test of green's error count against blue's rate (blue usually has far more
    traffic, so its rate is the better-known one); the rate is smoothed by half an error so a blue
    window without errors does not make every green error "infinitely" significant.
    """
    if not blue.requests:
        return math.nan
    if green.errors_5xx == 0:
        return 1.0
    from scipy.stats import binomtest  # pylint: disable=import-outside-toplevel  # 0.5 s to import

    baseline = (blue.errors_5xx + 0.5) / (blue.requests + 1)
    return float(binomtest(green.errors_5xx, green.requests, baseline, alternative="greater").pvalue)


def compare(green: WindowMetrics, blue: WindowMetrics, config: AnalysisConfig) -> Verdict:
    reasons: list[str] = []
    details: dict[str, float] = {}
    if green.requests < config.min_requests:
        reasons.append(f"no data: green served {green.requests} requests (< {config.min_requests})")
    if blue.requests < config.min_requests:
        reasons.append(f"no data: no baseline, blue served {blue.requests} requests (< {config.min_requests})")
    if len(green.p99_ms) < config.min_latency_samples:
        reasons.append(f"no data: {len(green.p99_ms)} green latency periods (< {config.min_latency_samples})")
    if reasons:
        return Verdict("nodata", tuple(reasons), green, blue, details)

    results: list[str] = []
    # Errors.
    p_err = _error_p_value(green, blue)
    details["green_error_rate"] = green.error_rate
    details["blue_error_rate"] = blue.error_rate
    details["error_p_value"] = p_err
    excess = green.error_rate - blue.error_rate
    significant = (not math.isnan(p_err)) and p_err < config.alpha
    if green.error_rate > config.max_error_rate and (significant or math.isnan(p_err)):
        results.append("fail")
        reasons.append(
            f"5xx rate {green.error_rate:.2%} on green vs {blue.error_rate:.2%} on blue "
            f"(limit {config.max_error_rate:.2%}, p={p_err:.3g})"
        )
    elif significant and excess > config.min_error_excess:
        results.append("marginal")
        reasons.append(
            f"5xx rate {green.error_rate:.2%} on green is above blue's {blue.error_rate:.2%} (p={p_err:.3g})"
        )

    # Latency.
    green_p99 = statistics.median(green.p99_ms)
    details["green_p99_ms"] = green_p99
    if config.max_p99_ms is not None and green_p99 > config.max_p99_ms:
        results.append("fail")
        reasons.append(f"p99 {green_p99:.0f} ms on green exceeds the {config.max_p99_ms:.0f} ms limit")
    if len(blue.p99_ms) >= config.min_latency_samples:
        blue_p99 = statistics.median(blue.p99_ms)
        ratio = green_p99 / blue_p99 if blue_p99 > 0 else math.inf
        from scipy.stats import mannwhitneyu  # pylint: disable=import-outside-toplevel

        p_lat = float(mannwhitneyu(green.p99_ms, blue.p99_ms, alternative="greater").pvalue)
        details["blue_p99_ms"] = blue_p99
        details["latency_ratio"] = ratio
        details["latency_p_value"] = p_lat
        if ratio > 1 + config.latency_tolerance:
            verdict = "fail" if p_lat < config.alpha else "marginal"
            results.append(verdict)
            reasons.append(
                f"p99 {green_p99:.0f} ms on green vs {blue_p99:.0f} ms on blue (+{ratio - 1:.0%}, "
                f"tolerance {config.latency_tolerance:.0%}, Mann-Whitney p={p_lat:.3g})"
            )
    if "fail" in results:
        return Verdict("fail", tuple(reasons), green, blue, details)
    if "marginal" in results:
        return Verdict("marginal", tuple(reasons), green, blue, details)
    return Verdict("pass", ("green within tolerance of blue",), green, blue, details)
