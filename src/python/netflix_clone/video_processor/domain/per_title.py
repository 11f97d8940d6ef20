"""Per-title ladders: trial encodes, the rate-quality envelope, and rungs picked along it.

Method (after Netflix's per-title encoding and AWS MediaConvert's automated ABR):

1. **What to try** (:func:`plan_trials`). Up to ``max_resolutions`` candidate sizes, spread evenly in
   log-pixels between the smallest and the largest rung of the default ladder, each at a band of
   CRFs: the top size at the highest qualities, smaller sizes at lower ones (a small picture is only
   on the hull at low rates). The trials run on chunks of the title whose total length is set by a
   CPU budget: their estimated cost (encode of every trial, VMAF of every scored frame) must stay
   within ``budget_fraction`` of the estimated cost of encoding the default ladder. A short clip
   is sampled; a feature film's budget covers ``max_sample_s`` and the trials are a rounding error.
2. **Calibration** (:func:`trial_point`, :func:`calibrate`). A trial on short chunks is not the
   title: every chunk opens on a keyframe while the ladder has one per segment (the trial's rate is
   recomputed from its own key and non-key frame sizes at the ladder's keyframe spacing), and the
   chunks differ from the whole in content and in how the encoder's lookahead sees them (on Big Buck
   Bunny the whole clip needed 30-50 % more bits than its chunks for the same VMAF). So one
   *calibration* encode runs on the whole title (or a long spread sample of a long one) at a middle
   size and CRF, and is scored against it: the rate its quality costs on the chunks' curve of that
   size, against the rate it cost on the title, is the factor every trial rate is scaled by.
3. **Curves and envelope**. Each resolution's points form a curve in (log2 rate, VMAF), interpolated
   with a monotone cubic (no overshoot between points). The *envelope* at a rate is the best VMAF any
   resolution's own curve reaches there; the *hull* is the upper convex hull of all points, reported
   for inspection.
4. **Rungs** (:func:`select_rungs`). The top rung sits where the envelope reaches ``top_vmaf`` (more
   bits buy nothing visible), at ``max_bitrate``, or at what the source's own bit rate justifies; the
   bottom at the lowest trial rate or ``min_bitrate``. Rungs between are spaced evenly in predicted
   quality, ``vmaf_step`` apart; rungs closer than ``min_rate_ratio`` are merged, and a rung is added
   wherever two neighbours are more than ``max_rate_ratio`` (2x, the authoring guidance) apart - if
   that needs more than ``max_rungs``, the ladder is spaced geometrically at equal steps instead and
   its bottom raised. Each rung's resolution is the one whose own curve is best at its rate
   (resolutions never decrease as rates rise), and its predicted VMAF is that curve's value.
5. Rates in the curves are elementary-stream rates; a rung's nominal rate adds the container's
   overhead (``domain.ladder.delivered_kbps``), which is what its segments will deliver.

Long module: one method in five steps that share the curves and limits above; split into files, each
step would import the others' private helpers (the curve type, the envelope search) and the method
would no longer read top to bottom.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Optional

from netflix_clone.video_processor.domain.ladder import Rung, delivered_kbps, encoder_kbps, make_rung
from netflix_clone.video_processor.domain.levels import H264Encoding
from netflix_clone.video_processor.errors import PlanError

__all__ = [
    "Calibration",
    "PerTitleLimits",
    "PlanError",
    "TrialOptions",
    "TrialPlan",
    "TrialPoint",
    "calibrate",
    "curve_at",
    "envelope",
    "plan_trials",
    "quality_at",
    "rate_quality_hull",
    "select_rungs",
    "trial_point",
]


@dataclass(frozen=True)
class TrialPoint:
    width: int
    height: int
    bitrate_kbps: float  # elementary-stream rate the full title would take at this CRF
    vmaf: float
    crf: Optional[int] = None
    sample_kbps: Optional[float] = None  # as measured on the chunks, before calibration

    @property
    def resolution(self) -> tuple[int, int]:
        return self.width, self.height

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "width": self.width,
            "height": self.height,
            "bitrate_kbps": round(self.bitrate_kbps, 1),
            "vmaf": round(self.vmaf, 2),
            "crf": self.crf,
        }
        if self.sample_kbps is not None:
            out["sample_kbps"] = round(self.sample_kbps, 1)
        return out


@dataclass(frozen=True)
class PerTitleLimits:
    min_bitrate_kbps: float = 100.0  # nominal (delivered) rates
    max_bitrate_kbps: float = 8000.0
    min_rungs: int = 3
    max_rungs: int = 7
    top_vmaf: float = 95.0
    vmaf_step: float = 6.0
    min_rate_ratio: float = 1.25
    max_rate_ratio: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.min_bitrate_kbps < self.max_bitrate_kbps:
            raise PlanError("need 0 < min_bitrate_kbps < max_bitrate_kbps")
        if not 1 <= self.min_rungs <= self.max_rungs:
            raise PlanError("need 1 <= min_rungs <= max_rungs")
        if self.vmaf_step <= 0 or not 1.0 <= self.min_rate_ratio < self.max_rate_ratio:
            raise PlanError("need vmaf_step > 0 and 1 <= min_rate_ratio < max_rate_ratio")


@dataclass(frozen=True)
class TrialOptions:
    max_resolutions: int = 4
    top_crfs: tuple[int, ...] = (19, 25, 31)  # the largest size: the high-quality end
    lower_crfs: tuple[int, ...] = (26, 33)  # the next size down; each further size adds crf_shift
    crf_shift: int = 4
    budget_fraction: float = 0.8  # of the default ladder's estimated encode CPU
    min_sample_s: float = 1.0
    max_sample_s: float = 30.0
    chunks: int = 3
    min_chunk_s: float = 0.32
    vmaf_subsample: int = 2
    calibration_max_s: float = 120.0
    calibration_subsample: int = 4
    calibration_share: float = 0.25  # the calibration size: this share of the top size's pixels


# Rough CPU cost per pixel, from this encoder build on one core (x264 "fast": ~30 ms for a 720p
# frame; libvmaf v0.6.1: ~24 ms per 720p frame pair plus ~4 ms to decode and scale). Only the
# ratio between trials and ladder matters, so the preset's absolute speed cancels out.
_ENCODE_NS_PER_PIXEL = 33.0
_SECOND_PASS_FACTOR = 1.35  # two-pass ladder: x264's fast first pass costs ~35-40 % of the second
_VMAF_NS_PER_PIXEL = 28.0
_DECODE_NS_PER_PIXEL = 3.0
# Fixed costs that dominate tiny clips: each libvmaf instance loads its model and allocates its
# buffers (~50 ms), each encoder and each ffmpeg process starts up.
_VMAF_INSTANCE_S = 0.05
_ENCODER_INSTANCE_S = 0.01
_PROCESS_S = 0.02


@dataclass(frozen=True)
class Calibration:
    """One encode of (most of) the title, scored against it, to scale the trials' rates."""

    resolution: tuple[int, int]
    crfs: tuple[int, ...]  # one factor per CRF (per quality level)
    spans: tuple[tuple[float, float], ...]  # (start s, length s); the whole title if it is short

    @property
    def seconds(self) -> float:
        return sum(length for _, length in self.spans)


@dataclass(frozen=True)
class TrialPlan:
    resolutions: tuple[tuple[int, int], ...]
    crfs: dict[tuple[int, int], tuple[int, ...]]
    chunks: tuple[tuple[float, float], ...]  # (start s, length s) in the title
    gop_frames: int  # the ladder's keyframe interval (one segment)
    final_key_fraction: float  # keyframes per frame in the ladder
    calibration: Optional[Calibration] = None  # None when the trials saw the whole title
    estimated_cpu_s: float = 0.0
    ladder_cpu_s: float = 0.0  # estimated cost of encoding the default ladder (the budget's base)

    @property
    def sample_s(self) -> float:
        return sum(length for _, length in self.chunks)

    @property
    def points(self) -> int:
        return sum(len(c) for c in self.crfs.values())

    def chunk_starts_in_sample(self) -> list[float]:
        starts, at = [], 0.0
        for _, length in self.chunks:
            starts.append(at)
            at += length
        return starts

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "resolutions": [f"{w}x{h}" for w, h in self.resolutions],
            "crfs": {f"{w}x{h}": list(c) for (w, h), c in self.crfs.items()},
            "chunks": [[round(s, 3), round(n, 3)] for s, n in self.chunks],
            "sample_s": round(self.sample_s, 3),
            "points": self.points,
            "final_key_fraction": round(self.final_key_fraction, 5),
            "estimated_cpu_s": round(self.estimated_cpu_s, 2),
            "ladder_estimated_cpu_s": round(self.ladder_cpu_s, 2),
            "calibration": None,
        }
        if self.calibration is not None:
            w, h = self.calibration.resolution
            out["calibration"] = {
                "resolution": f"{w}x{h}",
                "crfs": list(self.calibration.crfs),
                "seconds": round(self.calibration.seconds, 3),
            }
        return out


def _spread_resolutions(candidates: Sequence[tuple[int, int]], count: int) -> tuple[tuple[int, int], ...]:
    """Up to ``count`` sizes evenly spaced in log-pixels, always the smallest and the largest."""
    ordered = sorted(set(candidates), key=lambda wh: wh[0] * wh[1])
    if len(ordered) <= count:
        return tuple(ordered)
    lo, hi = math.log(ordered[0][0] * ordered[0][1]), math.log(ordered[-1][0] * ordered[-1][1])
    chosen: list[tuple[int, int]] = []
    for i in range(count):
        target = lo + (hi - lo) * i / (count - 1)
        best = min(
            (r for r in ordered if r not in chosen),
            key=lambda r, t=target: abs(math.log(r[0] * r[1]) - t),  # type: ignore[misc]
        )
        chosen.append(best)
    return tuple(sorted(chosen, key=lambda wh: wh[0] * wh[1]))


def _spread(duration_s: float, frame_rate: float, total_s: float, count: int) -> tuple[tuple[float, float], ...]:
    """``count`` spans of equal length totalling ``total_s``, spread evenly, on frame boundaries."""
    frames = max(1, int(round(total_s / count * frame_rate)))
    length = frames / frame_rate
    out = []
    for i in range(count):
        start = duration_s * (i + 0.5) / count - length / 2
        start = max(0.0, min(duration_s - length, start))
        out.append((math.floor(start * frame_rate + 1e-6) / frame_rate, length))
    return tuple(out)


def plan_trials(
    duration_s: float,
    frame_rate: float,
    display_size: tuple[int, int],
    candidates: Sequence[tuple[int, int]],
    ladder_pixel_rate: float,
    segment_s: float,
    options: TrialOptions,
) -> TrialPlan:
    """Which sizes and CRFs to try, on how much of the title, within the CPU budget.

    ``ladder_pixel_rate`` is the default ladder's pixels per second summed over its rungs (what its
    encode has to push through the encoder); the budget is ``budget_fraction`` of that encode's
    estimated cost, and covers the trials and the calibration together.
    """
    if duration_s <= 0 or frame_rate <= 0:
        raise PlanError("need a positive duration and frame rate")
    resolutions = _spread_resolutions(candidates, options.max_resolutions)
    crfs: dict[tuple[int, int], tuple[int, ...]] = {}
    for rank, res in enumerate(reversed(resolutions)):  # rank 0 = the largest
        if rank == 0:
            crfs[res] = options.top_crfs
        else:
            shift = options.crf_shift * (rank - 1)
            crfs[res] = tuple(min(51, c + shift) for c in options.lower_crfs)
    display = display_size[0] * display_size[1]
    points = sum(len(c) for c in crfs.values())
    ns = 1e-9
    per_second = (
        frame_rate
        * ns
        * (
            sum(w * h * len(crfs[(w, h)]) for w, h in resolutions) * _ENCODE_NS_PER_PIXEL
            + display * _DECODE_NS_PER_PIXEL * 2
            + points * display * (_VMAF_NS_PER_PIXEL / max(1, options.vmaf_subsample))
        )
    )
    ladder_cpu = duration_s * ladder_pixel_rate * _ENCODE_NS_PER_PIXEL * _SECOND_PASS_FACTOR * ns
    budget = options.budget_fraction * ladder_cpu
    frames = max(1, int(round(duration_s * frame_rate)))
    gop = max(1, int(round(frame_rate * segment_s)))
    common = {
        "resolutions": resolutions,
        "crfs": crfs,
        "gop_frames": gop,
        "final_key_fraction": min(1.0, max(1, math.ceil(frames / gop)) / frames),
        "ladder_cpu_s": ladder_cpu,
    }
    fixed = 2 * _PROCESS_S + points * (_VMAF_INSTANCE_S + _ENCODER_INSTANCE_S)
    whole_cost = per_second * duration_s + fixed
    if whole_cost <= budget or duration_s <= options.min_sample_s:
        return TrialPlan(chunks=((0.0, duration_s),), estimated_cpu_s=whole_cost, **common)  # type: ignore[arg-type]

    # Sampled: the calibration encode first (a middle size, on the whole title or a long sample).
    top = resolutions[-1]
    target = top[0] * top[1] * options.calibration_share
    cal_res = min(resolutions, key=lambda r: abs(math.log(r[0] * r[1] / target)))
    band = crfs[cal_res]
    cal_crfs = (int(round(sum(band) / len(band))),)  # one point, in the middle of its band
    cal_s = min(duration_s, options.calibration_max_s)
    spans = (
        ((0.0, duration_s),)
        if cal_s >= duration_s
        else _spread(duration_s, frame_rate, cal_s, max(1, math.ceil(cal_s / 10.0)))
    )
    calibration = Calibration(cal_res, cal_crfs, spans)
    n_cal = len(cal_crfs)
    cal_cost = (
        fixed
        + n_cal * (_VMAF_INSTANCE_S + _ENCODER_INSTANCE_S)
        + frame_rate
        * ns
        * cal_s
        * (
            n_cal * cal_res[0] * cal_res[1] * _ENCODE_NS_PER_PIXEL
            + display * _DECODE_NS_PER_PIXEL * 2
            + n_cal * display * _VMAF_NS_PER_PIXEL / max(1, options.calibration_subsample)
        )
    )
    affordable = (budget - cal_cost) / per_second if per_second > 0 else duration_s
    sample_s = max(options.min_sample_s, min(options.max_sample_s, affordable, duration_s))
    count = max(1, min(options.chunks, int(sample_s / options.min_chunk_s)))
    chunks = _spread(duration_s, frame_rate, sample_s, count)
    sampled_cost = per_second * sum(n for _, n in chunks) + cal_cost
    if sampled_cost >= whole_cost:  # a clip so small that sampling saves nothing: try all of it
        return TrialPlan(chunks=((0.0, duration_s),), estimated_cpu_s=whole_cost, **common)  # type: ignore[arg-type]
    return TrialPlan(
        chunks=chunks,
        calibration=calibration,
        estimated_cpu_s=sampled_cost,
        **common,  # type: ignore[arg-type]
    )


def trial_point(
    width: int,
    height: int,
    crf: int,
    vmaf: float,
    sizes: Sequence[int],
    keys: Sequence[bool],
    plan: TrialPlan,
    frame_rate: float,
) -> TrialPoint:
    """A trial's rate at the ladder's keyframe spacing. ``sizes``/``keys``: its frames."""
    if not sizes:
        raise PlanError(f"trial {width}x{height} crf {crf} produced no frames")
    key_sizes = [s for s, k in zip(sizes, keys) if k]
    other = [s for s, k in zip(sizes, keys) if not k]
    sample_kbps = sum(sizes) * 8 / 1000 / (len(sizes) / frame_rate)
    if key_sizes and other:
        share = plan.final_key_fraction
        per_frame = (sum(other) / len(other)) * (1 - share) + (sum(key_sizes) / len(key_sizes)) * share
    else:
        per_frame = sum(sizes) / len(sizes)
    kbps = per_frame * 8 * frame_rate / 1000
    return TrialPoint(width, height, kbps, vmaf, crf, sample_kbps)


def calibrate(
    points: list[TrialPoint],
    resolution: tuple[int, int],
    title_points: Sequence[tuple[float, float]],
) -> tuple[list[tuple[float, float]], list[TrialPoint]]:
    """(the (VMAF, rate factor) pairs, points with every rate scaled).

    ``title_points`` are (kbps, VMAF) of the calibration encodes of ``resolution`` on the title.
    Each gives a factor: the title's rate for that VMAF over the rate the chunks' curve of the same
    size needs for it (the curve inverted in log-rate, extended linearly past its ends). A trial
    point's rate is scaled by the factor at its own VMAF, interpolated between the calibration
    qualities (short chunks understate low qualities' cost the most) and held beyond them.
    Factors are bounded to [0.4, 2.5]: beyond that the calibration encode itself is suspect.
    """
    curve = _Curve.of([p for p in points if p.resolution == resolution])
    usable = [(kbps, vmaf) for kbps, vmaf in title_points if kbps > 0]
    if len(curve.xs) < 2 or not usable:
        return [], list(points)
    factors: list[tuple[float, float]] = sorted(
        (vmaf, max(0.4, min(2.5, kbps / float(2.0 ** curve.inverse(vmaf))))) for kbps, vmaf in usable
    )

    def factor_at(vmaf: float) -> float:
        if vmaf <= factors[0][0]:
            return factors[0][1]
        for (v0, f0), (v1, f1) in zip(factors, factors[1:]):
            if vmaf <= v1:
                t = (vmaf - v0) / (v1 - v0) if v1 > v0 else 1.0
                return f0 + (f1 - f0) * t
        return factors[-1][1]

    scaled = [
        TrialPoint(p.width, p.height, p.bitrate_kbps * factor_at(p.vmaf), p.vmaf, p.crf, p.sample_kbps) for p in points
    ]
    return factors, scaled


def _cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def rate_quality_hull(points: list[TrialPoint]) -> list[TrialPoint]:
    """Upper convex hull in (log2 bitrate, VMAF), increasing in both; dominated points removed."""
    usable = sorted((p for p in points if p.bitrate_kbps > 0), key=lambda p: (p.bitrate_kbps, -p.vmaf))
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


@dataclass(frozen=True)
class _Curve:
    """One resolution's monotone cubic (Fritsch-Carlson) through its points in (log2 rate, VMAF)."""

    xs: tuple[float, ...]
    ys: tuple[float, ...]
    slopes: tuple[float, ...] = field(default=())

    @classmethod
    def of(cls, points: Sequence[TrialPoint]) -> _Curve:
        pairs = sorted((math.log2(p.bitrate_kbps), p.vmaf) for p in points if p.bitrate_kbps > 0)
        xs: list[float] = []
        ys: list[float] = []
        for x, y in pairs:
            if xs and x - xs[-1] < 1e-9:
                ys[-1] = max(ys[-1], y)
                continue
            xs.append(x)
            ys.append(max(y, ys[-1]) if ys else y)  # more bits never score lower
        n = len(xs)
        if n < 2:
            return cls(tuple(xs), tuple(ys), (0.0,) * n)
        d = [(ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i]) for i in range(n - 1)]
        m = [d[0]] + [0.0 if d[i - 1] * d[i] <= 0 else (d[i - 1] + d[i]) / 2 for i in range(1, n - 1)]
        m.append(d[-1])
        for i in range(n - 1):
            if d[i] == 0:
                m[i] = m[i + 1] = 0.0
                continue
            a, b = m[i] / d[i], m[i + 1] / d[i]
            if a * a + b * b > 9:
                tau = 3 / math.sqrt(a * a + b * b)
                m[i], m[i + 1] = tau * a * d[i], tau * b * d[i]
        return cls(tuple(xs), tuple(ys), tuple(m))

    @property
    def lo(self) -> float:
        return self.xs[0]

    @property
    def hi(self) -> float:
        return self.xs[-1]

    def at(self, x: float) -> float:
        xs, ys, m = self.xs, self.ys, self.slopes
        if len(xs) == 1:
            return ys[0]
        if x <= xs[0]:  # below the range: the first segment's slope, never below zero
            return max(0.0, ys[0] + m[0] * (x - xs[0]))
        if x >= xs[-1]:  # above it: no credit for quality that was not seen
            return ys[-1]
        i = max(j for j in range(len(xs) - 1) if xs[j] <= x)
        h = xs[i + 1] - xs[i]
        t = (x - xs[i]) / h
        h00, h10 = 2 * t**3 - 3 * t**2 + 1, t**3 - 2 * t**2 + t
        h01, h11 = -2 * t**3 + 3 * t**2, t**3 - t**2
        return h00 * ys[i] + h10 * h * m[i] + h01 * ys[i + 1] + h11 * h * m[i + 1]

    def inverse(self, y: float) -> float:
        """The log2 rate where the curve reaches ``y``; linear beyond its ends (end chords)."""
        xs, ys = self.xs, self.ys
        if y <= ys[0] or y >= ys[-1]:
            i = 0 if y <= ys[0] else len(xs) - 2
            dy = ys[i + 1] - ys[i]
            if dy <= 1e-9:
                return xs[i] if y <= ys[0] else xs[-1]
            return xs[i] + (y - ys[i]) * (xs[i + 1] - xs[i]) / dy
        lo, hi = xs[0], xs[-1]
        for _ in range(60):
            mid = (lo + hi) / 2
            if self.at(mid) < y:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2


def _curves(points: list[TrialPoint]) -> dict[tuple[int, int], _Curve]:
    by_res: dict[tuple[int, int], list[TrialPoint]] = {}
    for point in points:
        by_res.setdefault(point.resolution, []).append(point)
    return {res: _Curve.of(pts) for res, pts in by_res.items()}


def curve_at(points: list[TrialPoint], resolution: tuple[int, int], bitrate_kbps: float) -> float:
    """VMAF of ``resolution``'s own curve at ``bitrate_kbps``."""
    return _curves(points)[resolution].at(math.log2(bitrate_kbps))


def envelope(points: list[TrialPoint], bitrate_kbps: float) -> tuple[tuple[int, int], float]:
    """The resolution whose own curve gives the best VMAF at ``bitrate_kbps``, and that VMAF.

    A curve competes from a little below its lowest measured rate (extended along its first
    segment) up; beyond its highest it stays flat, so a resolution is never credited with a
    quality it was not seen to reach.
    """
    return _envelope(_curves(points), math.log2(bitrate_kbps))


# How far (in doublings of the rate) a curve may be extended below its lowest trial: one CRF step
# of about 0.6 doublings, along its first segment's slope. Extending downwards only ever predicts
# less quality than was seen; above its highest trial a curve stays flat.
_EXTEND_BELOW = 0.6


def _envelope(curves: dict[tuple[int, int], _Curve], x: float) -> tuple[tuple[int, int], float]:
    best: Optional[tuple[float, int, tuple[int, int]]] = None
    for res, curve in curves.items():
        if x < curve.lo - _EXTEND_BELOW:
            continue
        candidate = (curve.at(x), res[0] * res[1], res)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    if best is None:  # below every curve: the curve that starts lowest, extrapolated
        res = min(curves, key=lambda r: (curves[r].lo, r[0] * r[1]))
        return res, curves[res].at(x)
    return best[2], best[0]


def _rate_for(curves: dict[tuple[int, int], _Curve], vmaf: float, lo: float, hi: float) -> float:
    """The lowest log2 rate in [lo, hi] where the envelope reaches ``vmaf`` (bisection)."""
    if _envelope(curves, lo)[1] >= vmaf:
        return lo
    if _envelope(curves, hi)[1] < vmaf:
        return hi
    for _ in range(60):
        mid = (lo + hi) / 2
        if _envelope(curves, mid)[1] >= vmaf:
            hi = mid
        else:
            lo = mid
    return hi


def _limit_steps(rates: list[float], limits: PerTitleLimits) -> list[float]:
    """Merge rungs closer than min_rate_ratio, fill gaps wider than max_rate_ratio, keep max_rungs."""
    merged: list[float] = []
    for rate in sorted(rates):
        if not merged or rate >= merged[-1] * limits.min_rate_ratio:
            merged.append(rate)
    if merged[-1] < max(rates):  # the top rung was merged away: it replaces its lower neighbour
        merged[-1] = max(rates)
    filled: list[float] = [merged[0]]
    for rate in merged[1:]:
        gaps = math.ceil(math.log(rate / filled[-1]) / math.log(limits.max_rate_ratio) - 1e-9)
        base = filled[-1]
        for k in range(1, gaps):
            filled.append(base * (rate / base) ** (k / gaps))
        filled.append(rate)
    if len(filled) <= limits.max_rungs:
        return filled
    # Too many rungs for 2x steps: equal geometric steps over the range, the bottom raised if needed.
    top = filled[-1]
    count = limits.max_rungs
    bottom = max(filled[0], top / limits.max_rate_ratio ** (count - 1))
    if count == 1:
        return [top]
    return [bottom * (top / bottom) ** (i / (count - 1)) for i in range(count)]


def select_rungs(
    points: list[TrialPoint],
    limits: PerTitleLimits,
    frame_rate: float,
    codec: str = "h264",
    peak_ratio: float = 1.5,
    frame_rate_for: Optional[dict[tuple[int, int], float]] = None,
    container: str = "ts",
    h264: H264Encoding = H264Encoding(),
    cap_for: Optional[Callable[[int, int, float], Optional[float]]] = None,
) -> tuple[list[Rung], list[TrialPoint]]:
    """Rungs along the envelope of ``points``; returns (rungs low to high, hull).

    ``cap_for(width, height, fps)`` gives the highest elementary-stream rate the source justifies
    at that size (``domain.ladder.source_cap_kbps``), or None.
    """
    hull = rate_quality_hull(points)
    curves = _curves(points)
    fps_of = frame_rate_for or {}

    def fps(res: tuple[int, int]) -> float:
        return fps_of.get(res, frame_rate)

    smallest = min(curves, key=lambda r: r[0] * r[1])
    largest = max(curves, key=lambda r: r[0] * r[1])
    lo = max(
        math.log2(encoder_kbps(container, fps(smallest), limits.min_bitrate_kbps)),
        min(c.lo for c in curves.values()),
    )
    hi = min(
        math.log2(encoder_kbps(container, fps(largest), limits.max_bitrate_kbps)),
        max(c.hi for c in curves.values()),
    )
    hi = max(hi, lo)
    top = _rate_for(curves, limits.top_vmaf, lo, hi)
    if cap_for is not None:
        res = _envelope(curves, top)[0]
        cap = cap_for(res[0], res[1], fps(res))
        if cap is not None and cap > 0:
            top = max(lo, min(top, math.log2(cap)))
    q_lo, q_top = _envelope(curves, lo)[1], _envelope(curves, top)[1]
    wanted = int(math.ceil((q_top - q_lo) / limits.vmaf_step)) + 1
    count = max(limits.min_rungs, min(limits.max_rungs, wanted))
    if top - lo < 1e-9 or count == 1:
        xs = [top] if count == 1 or top - lo < 1e-9 else [lo, top]
    elif wanted >= limits.min_rungs and q_top - q_lo > 1e-6:
        xs = [_rate_for(curves, q_lo + (q_top - q_lo) * i / (count - 1), lo, top) for i in range(count)]
    else:
        # A flat envelope cannot give min_rungs quality steps: spread the rest evenly in log rate.
        xs = [lo + (top - lo) * i / (count - 1) for i in range(count)]
    rates = _limit_steps([2.0**x for x in xs], limits)

    rungs: list[Rung] = []
    best_res: Optional[tuple[int, int]] = None
    for rate in rates:
        res, _ = _envelope(curves, math.log2(rate))
        if best_res is not None and res[0] * res[1] < best_res[0] * best_res[1]:
            res = best_res  # never a smaller picture for more bits
        best_res = res
        if cap_for is not None:
            cap = cap_for(res[0], res[1], fps(res))
            if cap is not None and 0 < cap < rate:
                rate = cap
        predicted = curves[res].at(math.log2(rate))
        nominal = delivered_kbps(container, fps(res), rate)
        rungs.append(make_rung(codec, res[0], res[1], fps(res), nominal, peak_ratio, predicted, container, h264))
    # A cap can bring neighbours together: keep rungs at least min_rate_ratio apart, top first.
    kept: list[Rung] = []
    for rung in sorted(rungs, key=lambda r: r.bitrate_kbps, reverse=True):
        if not kept or rung.bitrate_kbps * limits.min_rate_ratio <= kept[-1].bitrate_kbps:
            kept.append(rung)
    return sorted(kept, key=lambda r: r.bitrate_kbps), hull
