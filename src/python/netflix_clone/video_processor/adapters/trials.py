"""Trial encodes for per-title ladders: sampled segments, every candidate resolution, a few CRFs.

The samples (``samples`` x ``sample_s`` seconds spread over the title) are joined into one
near-lossless reference clip; each CRF is one ffmpeg process that decodes it once and encodes every
candidate resolution (split filter); each trial is then scored with VMAF against the reference at the
source's display size.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Optional

from netflix_clone.video_processor.adapters.ffmpeg import ProgressCallback, run_ffmpeg
from netflix_clone.video_processor.adapters.quality import score_rendition
from netflix_clone.video_processor.domain.ladder import CODECS
from netflix_clone.video_processor.domain.media import MediaInfo
from netflix_clone.video_processor.domain.per_title import TrialPoint

__all__ = ["TrialOptions", "run_trials"]


@dataclass(frozen=True)
class TrialOptions:
    samples: int = 3
    sample_s: float = 2.0
    crfs: tuple[int, ...] = (18, 24, 30, 36)
    preset: str = "veryfast"
    vmaf_subsample: int = 2


def _sample_reference(
    source: str, info: MediaInfo, out: str, options: TrialOptions, stop: Optional[threading.Event]
) -> float:
    total = options.samples * options.sample_s
    near_lossless = ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "8", out]
    if info.duration_s <= total * 1.5:  # too short to sample: the whole title is the reference
        run_ffmpeg(["-i", source, "-map", "0:v:0", "-an", *near_lossless], stop=stop)
        return info.duration_s
    args: list[str] = []
    for i in range(options.samples):
        start = info.duration_s * (i + 0.5) / options.samples - options.sample_s / 2
        args += ["-ss", f"{max(0.0, start):.3f}", "-t", f"{options.sample_s:.3f}", "-i", source]
    inputs = "".join(f"[{i}:v:0]" for i in range(options.samples))
    graph = f"{inputs}concat=n={options.samples}:v=1:a=0,format=yuv420p[v]"
    run_ffmpeg([*args, "-filter_complex", graph, "-map", "[v]", *near_lossless], stop=stop)
    return total


def run_trials(
    source: str,
    info: MediaInfo,
    resolutions: list[tuple[int, int]],
    codec: str,
    work_dir: str,
    options: TrialOptions,
    progress: Optional[ProgressCallback] = None,
    stop: Optional[threading.Event] = None,
) -> list[TrialPoint]:
    if info.video is None:
        raise ValueError("no video to trial")
    os.makedirs(work_dir, exist_ok=True)
    reference = os.path.join(work_dir, "reference.mp4")
    seconds = _sample_reference(source, info, reference, options, stop)
    width, height = info.video.display_size
    encoder = CODECS[codec].encoder
    points: list[TrialPoint] = []
    steps = len(options.crfs) * (1 + len(resolutions))
    done = 0
    for crf in options.crfs:
        outputs = "".join(f"[s{i}]" for i in range(len(resolutions)))
        graph = [
            f"[0:v:0]split={len(resolutions)}{outputs}"
            if len(resolutions) > 1
            else "[0:v:0]null[s0]"
        ]
        args = ["-i", reference]
        for i, (w, h) in enumerate(resolutions):
            graph.append(f"[s{i}]scale={w}:{h}:flags=lanczos,setsar=1,format=yuv420p[o{i}]")
        args += ["-filter_complex", ";".join(graph)]
        files = []
        for i, (w, h) in enumerate(resolutions):
            path = os.path.join(work_dir, f"trial_{w}x{h}_crf{crf}.mp4")
            files.append(path)
            args += ["-map", f"[o{i}]", "-c:v", encoder, "-crf", str(crf)]
            if codec != "av1":
                args += ["-preset", options.preset]
            args.append(path)
        run_ffmpeg(args, stop=stop)
        done += 1
        if progress:
            progress(done / steps)
        for (w, h), path in zip(resolutions, files):
            kbps = os.path.getsize(path) * 8 / seconds / 1000
            score = score_rendition(
                path,
                reference,
                width,
                height,
                info.video.frame_rate,
                subsample=options.vmaf_subsample,
            )
            points.append(TrialPoint(w, h, kbps, score.vmaf_mean, crf))
            done += 1
            if progress:
                progress(done / steps)
    return points
