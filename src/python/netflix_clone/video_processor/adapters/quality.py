"""VMAF (vmaf_v0.6.1), PSNR and SSIM of a rendition against its source, in one libvmaf pass.

The rendition is upscaled (bicubic) to the source's display size and, for rungs with a reduced frame
rate, its frames are repeated up to the source rate - what a player on a full-size screen shows.
``subsample`` scores every n-th frame: the cost falls about n-fold while the pooled mean moves little
(see the benchmark's scoring-cost figures).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass
from typing import Any, Optional

from netflix_clone.video_processor.adapters.ffmpeg import ProgressCallback, run_ffmpeg

__all__ = ["QualityScore", "score_rendition"]


@dataclass(frozen=True)
class QualityScore:
    vmaf_mean: float
    vmaf_harmonic_mean: float
    vmaf_min: float
    vmaf_p5: float  # 5th percentile of scored frames: how bad the worst moments get
    psnr_y: float
    ssim: float
    frames_scored: int
    cpu_seconds: float

    def as_dict(self) -> dict[str, Any]:
        """The scores (CPU time is a run statistic, not a property of the rendition)."""
        return {
            "vmaf": round(self.vmaf_mean, 2),
            "vmaf_harmonic_mean": round(self.vmaf_harmonic_mean, 2),
            "vmaf_min": round(self.vmaf_min, 2),
            "vmaf_p5": round(self.vmaf_p5, 2),
            "psnr_y_db": round(self.psnr_y, 2),
            "ssim": round(self.ssim, 4),
            "frames_scored": self.frames_scored,
        }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    k = (len(ordered) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def score_rendition(
    distorted: str,
    reference: str,
    width: int,
    height: int,
    reference_fps: float,
    distorted_fps: Optional[float] = None,
    subsample: int = 1,
    threads: int = 2,
    duration_s: Optional[float] = None,
    progress: Optional[ProgressCallback] = None,
) -> QualityScore:
    """Score ``distorted`` (a file or playlist) against ``reference`` at ``width`` x ``height``."""
    chain = f"[0:v]scale={width}:{height}:flags=bicubic,setsar=1"
    if distorted_fps is not None and abs(distorted_fps - reference_fps) > 1e-3:
        chain += f",fps={reference_fps:.6f}"
    chain += ",format=yuv420p,setpts=PTS-STARTPTS[d]"
    with tempfile.TemporaryDirectory(prefix="nfc-vmaf-") as tmp:
        log = os.path.join(tmp, "vmaf.json")
        graph = (
            f"{chain};[1:v]setsar=1,format=yuv420p,setpts=PTS-STARTPTS[r];"
            f"[d][r]libvmaf=model=version=vmaf_v0.6.1:feature=name=psnr|name=float_ssim"
            f":n_subsample={max(1, subsample)}:n_threads={max(1, threads)}:shortest=1"
            f":log_fmt=json:log_path={log}"
        )
        args = [
            "-i",
            distorted,
            "-i",
            reference,
            "-lavfi",
            graph,
            "-f",
            "null",
            "-",
        ]
        run = run_ffmpeg(args, duration_s, progress)
        with open(log, encoding="utf-8") as handle:
            data = json.load(handle)
    frames = [f["metrics"] for f in data.get("frames", [])]
    if not frames:
        raise ValueError(f"libvmaf scored no frames of {distorted}")
    pooled = data["pooled_metrics"]
    vmaf = [float(f["vmaf"]) for f in frames]
    return QualityScore(
        vmaf_mean=float(pooled["vmaf"]["mean"]),
        vmaf_harmonic_mean=float(pooled["vmaf"]["harmonic_mean"]),
        vmaf_min=float(pooled["vmaf"]["min"]),
        vmaf_p5=_percentile(vmaf, 0.05),
        psnr_y=float(pooled["psnr_y"]["mean"]),
        ssim=float(pooled["float_ssim"]["mean"]),
        frames_scored=len(frames),
        cpu_seconds=run.cpu_seconds,
    )
