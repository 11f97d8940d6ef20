"""Per-title ladders: the rate-quality convex hull of trial encodes, and rungs picked along it.

Method (after Netflix's per-title encoding and AWS MediaConvert's automated ABR):

1. Trial encodes (done by the adapter) of sampled segments at every candidate resolution, each at a
   few constant-quality points (CRF), give points (resolution, bitrate, VMAF). VMAF is measured
   after upscaling the trial back to the source size, as a viewer's player would.
2. Every resolution's own rate-quality curve is a line through its points in (log2 bitrate, VMAF).
   The *envelope* at a bitrate is the best VMAF any resolution reaches there; the *hull* is the upper
   convex hull of all points, with dominated points (more bits, no more quality) dropped. Encoding a
   title anywhere below the hull wastes bits; the hull's corners are where a switch of resolution pays.
3. The top rung sits where the hull first reaches ``top_vmaf`` (more bits buy nothing visible) or at
   ``max_bitrate``; the bottom at the hull's lowest rate or ``min_bitrate``. Rungs between are spaced
   evenly in *quality*, ``vmaf_step`` apart (about one just-noticeable difference), so each switch is
   perceptually similar; their count is clamped to [min_rungs, max_rungs] and rungs closer than
   ``min_rate_ratio`` in bitrate are merged.
4. Each rung's resolution is the one whose own curve is best at its bitrate; resolutions never
   decrease as bitrate rises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from netflix_clone.video_processor.domain.ladder import Rung, make_rung

__all__ = [
    "PerTitleLimits",
    "PlanError",
    "TrialPoint",
    "envelope",
    "quality_at",
    "rate_quality_hull",
    "select_rungs",
]


class PlanError(ValueError):
    pass


@dataclass(frozen=True)
class TrialPoint:
    width: int
    height: int
    bitrate_kbps: float
    vmaf: float
    crf: Optional[int] = None

    @property
    def resolution(self) -> tuple[int, int]:
        return self.width, self.height

    def as_dict(self) -> dict[str, object]:
        return {
            "width": self.width,
            "height": self.height,
            "bitrate_kbps": round(self.bitrate_kbps, 1),
            "vmaf": round(self.vmaf, 2),
            "crf": self.crf,
        }


@dataclass(frozen=True)
class PerTitleLimits:
    min_bitrate_kbps: float = 100.0
    max_bitrate_kbps: float = 8000.0
    min_rungs: int = 3
    max_rungs: int = 7
    top_vmaf: float = 95.0
    vmaf_step: float = 6.0
    min_rate_ratio: float = 1.25

    def __post_init__(self) -> None:
        if not 0 < self.min_bitrate_kbps < self.max_bitrate_kbps:
            raise PlanError("need 0 < min_bitrate_kbps < max_bitrate_kbps")
        if not 1 <= self.min_rungs <= self.max_rungs:
            raise PlanError("need 1 <= min_rungs <= max_rungs")
        if self.vmaf_step <= 0 or self.min_rate_ratio < 1.0:
            raise PlanError("need vmaf_step > 0 and min_rate_ratio >= 1")


def _cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def rate_quality_hull(points: list[TrialPoint]) -> list[TrialPoint]:
    """Upper convex hull in (log2 bitrate, VMAF), increasing in both; dominated points removed."""
    usable = sorted(
        (p for p in points if p.bitrate_kbps > 0), key=lambda p: (p.bitrate_kbps, -p.vmaf)
    )
    if not usable:
        raise PlanError("no trial points with a positive bitrate")
    frontier: list[TrialPoint] = []
    for point in usable:
        if not frontier or point.vmaf > frontier[-1].vmaf:
            frontier.append(point)
    hull: list[TrialPoint] = []
    for point in frontier:
        xy = (math.log2(point.bitrate_kbps), point.vmaf)
        while len(hull) >= 2:
            o = (math.log2(hull[-2].bitrate_kbps), hull[-2].vmaf)
            a = (math.log2(hull[-1].bitrate_kbps), hull[-1].vmaf)
            if _cross(o, a, xy) >= 0:  # hull[-1] lies on or below the chord: not a corner
                hull.pop()
            else:
                break
        hull.append(point)
    return hull


def quality_at(hull: list[TrialPoint], bitrate_kbps: float) -> float:
    """The hull's VMAF at a bitrate (linear in log2 rate; flat beyond its ends)."""
    x = math.log2(bitrate_kbps)
    if x <= math.log2(hull[0].bitrate_kbps):
        return hull[0].vmaf
    for left, right in zip(hull, hull[1:]):
        x0, x1 = math.log2(left.bitrate_kbps), math.log2(right.bitrate_kbps)
        if x <= x1:
            return left.vmaf + (right.vmaf - left.vmaf) * (x - x0) / (x1 - x0)
    return hull[-1].vmaf


def rate_for_quality(hull: list[TrialPoint], vmaf: float) -> float:
    if vmaf <= hull[0].vmaf:
        return hull[0].bitrate_kbps
    for left, right in zip(hull, hull[1:]):
        if vmaf <= right.vmaf:
            x0, x1 = math.log2(left.bitrate_kbps), math.log2(right.bitrate_kbps)
            t = (vmaf - left.vmaf) / (right.vmaf - left.vmaf)
            return float(2.0 ** (x0 + t * (x1 - x0)))
    return hull[-1].bitrate_kbps


def _curve(points: list[TrialPoint]) -> list[tuple[float, float]]:
    return sorted((math.log2(p.bitrate_kbps), p.vmaf) for p in points if p.bitrate_kbps > 0)


def envelope(points: list[TrialPoint], bitrate_kbps: float) -> tuple[tuple[int, int], float]:
    """The resolution whose own curve gives the best VMAF at ``bitrate_kbps``, and that VMAF.

    Each curve is interpolated inside its measured range; outside it a curve counts only at its
    nearest end and only on the side where more bits cannot lower quality (flat to the right), so a
    resolution is never credited with a quality it was not seen to reach.
    """
    by_res: dict[tuple[int, int], list[TrialPoint]] = {}
    for point in points:
        by_res.setdefault(point.resolution, []).append(point)
    x = math.log2(bitrate_kbps)
    best: Optional[tuple[float, int, tuple[int, int]]] = None
    for res, pts in by_res.items():
        curve = _curve(pts)
        if not curve or x < curve[0][0]:
            continue
        q = curve[-1][1]
        for (x0, q0), (x1, q1) in zip(curve, curve[1:]):
            if x0 <= x <= x1:
                q = q0 + (q1 - q0) * ((x - x0) / (x1 - x0) if x1 > x0 else 1.0)
                break
        candidate = (q, res[0] * res[1], res)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    if best is None:  # below every curve's range: the smallest resolution's lowest point
        lowest = min(points, key=lambda p: (p.width * p.height, p.bitrate_kbps))
        return lowest.resolution, lowest.vmaf
    return best[2], best[0]


def select_rungs(
    points: list[TrialPoint],
    limits: PerTitleLimits,
    frame_rate: float,
    codec: str = "h264",
    peak_ratio: float = 1.5,
    frame_rate_for: Optional[dict[tuple[int, int], float]] = None,
) -> tuple[list[Rung], list[TrialPoint]]:
    """Rungs along the hull of ``points``; returns (rungs low to high, hull)."""
    hull = rate_quality_hull(points)
    lo_rate = max(limits.min_bitrate_kbps, hull[0].bitrate_kbps)
    top_rate = min(limits.max_bitrate_kbps, hull[-1].bitrate_kbps)
    if quality_at(hull, top_rate) >= limits.top_vmaf:
        top_rate = min(top_rate, rate_for_quality(hull, limits.top_vmaf))
    top_rate = max(top_rate, lo_rate)
    q_lo, q_top = quality_at(hull, lo_rate), quality_at(hull, top_rate)
    wanted = int(math.ceil((q_top - q_lo) / limits.vmaf_step)) + 1
    count = max(limits.min_rungs, min(limits.max_rungs, wanted))

    if q_top - q_lo < 1e-6 or count == 1:
        rates = [lo_rate, top_rate][: 1 if count == 1 or top_rate <= lo_rate else 2]
    elif wanted >= limits.min_rungs:
        rates = [
            rate_for_quality(hull, q_lo + (q_top - q_lo) * i / (count - 1)) for i in range(count)
        ]
    else:
        # A flat hull cannot give min_rungs quality steps: spread the rest evenly in log rate.
        rates = [lo_rate * (top_rate / lo_rate) ** (i / (count - 1)) for i in range(count)]

    # Rungs closer than min_rate_ratio are not worth a switch (this wins over min_rungs).
    merged: list[float] = []
    for rate in sorted(rates):
        if not merged or rate >= merged[-1] * limits.min_rate_ratio:
            merged.append(rate)
    if merged[-1] < max(rates):  # the top rung was merged away: it replaces its lower neighbour
        merged[-1] = max(rates)

    rungs: list[Rung] = []
    best_pixels = 0
    best_res: tuple[int, int] = (0, 0)
    for rate in merged:
        res, _ = envelope(points, rate)
        if res[0] * res[1] >= best_pixels:
            best_pixels, best_res = res[0] * res[1], res
        fps = (frame_rate_for or {}).get(best_res, frame_rate)
        rungs.append(
            make_rung(
                codec, best_res[0], best_res[1], fps, rate, peak_ratio, quality_at(hull, rate)
            )
        )
    return rungs, hull
