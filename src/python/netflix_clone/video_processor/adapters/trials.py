"""Trial encodes for per-title ladders: two ffmpeg processes, whatever the number of trial points.

1. **Encode**: the sampled chunks of the source (``domain.per_title.plan_trials``) are decoded once,
   scaled once per candidate resolution and encoded at every CRF of that resolution's band, with the
   ladder's own encoder and preset (a faster trial preset mispredicts the final encode by 2-6 VMAF),
   into raw elementary streams, so sizes are exactly the bits the encoder spent.
2. **Score**: the same chunks are decoded once more as the reference; every n-th frame is selected on
   both sides before any scaling and each trial is scored with VMAF against the shared reference.

Per-frame packet sizes of each trial give its rate with the final encode's keyframe spacing (a forced
keyframe opens every chunk, the ladder has one per segment). When the trials only saw chunks, a
calibration encode of the whole title (or a long spread sample) at one middle point rides along in
both processes and scales every trial rate (``domain.per_title.calibrate``).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from typing import Any, Optional

import av

from netflix_clone.video_processor.adapters.ffmpeg import FfmpegRun, ProgressCallback, run_ffmpeg
from netflix_clone.video_processor.domain.ladder import CODECS
from netflix_clone.video_processor.domain.media import MediaInfo
from netflix_clone.video_processor.domain.per_title import TrialOptions, TrialPlan, TrialPoint, calibrate, trial_point

__all__ = ["TrialRun", "run_trials"]

_RAW_FORMAT = {"h264": "h264", "hevc": "hevc", "av1": "ivf"}

Span = tuple[float, float]


@dataclass
class TrialRun:
    points: list[TrialPoint]  # calibrated
    cpu_seconds: float
    seconds: float
    calibration: Optional[dict[str, Any]] = None


def _span_inputs(source: str, spans: tuple[Span, ...]) -> list[str]:
    args: list[str] = []
    for start, length in spans:
        args += ["-ss", f"{start:.3f}", "-t", f"{length:.3f}", "-i", source]
    return args


def _joined(spans: tuple[Span, ...], first_input: int, label: str) -> str:
    """The spans (inputs first_input...) joined into one stream ``[label]``."""
    n = len(spans)
    if n == 1:
        return f"[{first_input}:v:0]setsar=1,format=yuv420p[{label}]"
    inputs = "".join(f"[{first_input + i}:v:0]" for i in range(n))
    return f"{inputs}concat=n={n}:v=1:a=0,setsar=1,format=yuv420p[{label}]"


def _starts(spans: tuple[Span, ...]) -> str:
    starts, at = [], 0.0
    for _, length in spans:
        starts.append(f"{at:.3f}")
        at += length
    return ",".join(starts)


def _encoder_args(codec: str, crf: int, preset: str, gop: int) -> list[str]:
    encoder = CODECS[codec].encoder
    args = ["-c:v", encoder, "-crf", str(crf), "-g", str(gop), "-threads", "1"]
    if codec == "h264":
        args += ["-preset", preset, "-profile:v", "high", "-sc_threshold", "0"]
    elif codec == "hevc":
        args += [
            "-preset",
            preset,
            "-x265-params",
            f"scenecut=0:open-gop=0:log-level=error:frame-threads=1:pools=1:keyint={gop}",
        ]
    else:
        args += ["-preset", "10", "-svtav1-params", "scd=0:lp=1"]
    # Passthrough: a raw stream is not variable-rate, and ffmpeg would otherwise duplicate frames
    # at the joins between spans to keep a constant rate, shifting every later frame.
    return [*args, "-fps_mode", "passthrough", "-fflags", "+bitexact"]


def _frame_sizes(path: str) -> tuple[list[int], list[bool]]:
    sizes: list[int] = []
    keys: list[bool] = []
    with av.open(path) as container:
        for packet in container.demux(video=0):
            if packet.size:
                sizes.append(int(packet.size))
                keys.append(bool(packet.is_keyframe))
    return sizes, keys


def _pooled_vmaf(log: str) -> float:
    with open(log, encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return float(data["pooled_metrics"]["vmaf"]["mean"])


def run_trials(
    source: str,
    info: MediaInfo,
    plan: TrialPlan,
    codec: str,
    work_dir: str,
    options: TrialOptions,
    preset: str,
    progress: Optional[ProgressCallback] = None,
    stop: Optional[threading.Event] = None,
) -> TrialRun:
    if info.video is None:
        raise ValueError("no video to trial")
    os.makedirs(work_dir, exist_ok=True)
    width, height = info.video.display_size
    fps = info.video.frame_rate
    ext = _RAW_FORMAT[codec]
    trials = [(res, crf) for res in plan.resolutions for crf in plan.crfs[res]]
    files = [os.path.join(work_dir, f"trial_{w}x{h}_crf{crf}.{ext}") for (w, h), crf in trials]
    cal = plan.calibration
    cal_files = [os.path.join(work_dir, f"calibration_crf{crf}.{ext}") for crf in (cal.crfs if cal else ())]

    # 1. Encode: one decode of the chunks, one scale per resolution, one encoder per trial; the
    #    calibration encode reads its own spans in the same process.
    n_chunks = len(plan.chunks)
    graph = [_joined(plan.chunks, 0, "src")]
    graph.append(
        f"[src]split={len(plan.resolutions)}" + "".join(f"[r{i}]" for i in range(len(plan.resolutions)))
        if len(plan.resolutions) > 1
        else "[src]null[r0]"
    )
    for i, (w, h) in enumerate(plan.resolutions):
        n = len(plan.crfs[(w, h)])
        chain = f"[r{i}]scale={w}:{h}:flags=lanczos,setsar=1"
        graph.append(
            f"{chain},split={n}" + "".join(f"[t{i}_{j}]" for j in range(n)) if n > 1 else f"{chain},null[t{i}_0]"
        )
    inputs = _span_inputs(source, plan.chunks)
    if cal is not None:
        inputs += _span_inputs(source, cal.spans)
        graph.append(_joined(cal.spans, n_chunks, "cal"))
        n_cal = len(cal.crfs)
        chain = f"[cal]scale={cal.resolution[0]}:{cal.resolution[1]}:flags=lanczos,setsar=1"
        graph.append(
            f"{chain},split={n_cal}" + "".join(f"[calo{j}]" for j in range(n_cal))
            if n_cal > 1
            else f"{chain},null[calo0]"
        )
    args = [*inputs, "-filter_complex", ";".join(graph)]
    for i, (w, h) in enumerate(plan.resolutions):
        for j, crf in enumerate(plan.crfs[(w, h)]):
            args += ["-map", f"[t{i}_{j}]", "-force_key_frames", _starts(plan.chunks)]
            args += [*_encoder_args(codec, crf, preset, plan.gop_frames), "-f", ext]
            args.append(files[trials.index(((w, h), crf))])
    if cal is not None:
        for j, (crf, path) in enumerate(zip(cal.crfs, cal_files)):
            args += ["-map", f"[calo{j}]", "-force_key_frames", _starts(cal.spans)]
            args += [*_encoder_args(codec, crf, preset, plan.gop_frames), "-f", ext, path]
    encode_run = run_ffmpeg(
        args,
        max(plan.sample_s, cal.seconds if cal else 0.0),
        (lambda f: progress(0.5 * f)) if progress else None,
        stop=stop,
    )

    # 2. Score: the reference decoded once and shared. Frames are skipped by libvmaf's own
    #    n_subsample, never by dropping them before it: VMAF's motion feature compares consecutive
    #    reference frames, and every-n-th frames look n times busier (+4 VMAF on Big Buck Bunny).
    def timeline() -> str:
        # Both sides on one frame-index clock (pts = frame number); the time base is set first so
        # that no branch's own coarse time base (1001/30000 for a raw 29.97 fps stream) rounds it.
        return "settb=1/25,setpts=N"

    def raw_input(path: str) -> list[str]:
        return ["-i", path] if ext == "ivf" else ["-f", ext, "-r", f"{fps:.6f}", "-i", path]

    n_trials = len(files)
    inputs = [a for path in files for a in raw_input(path)]
    inputs += _span_inputs(source, plan.chunks)
    graph = [_joined(plan.chunks, n_trials, "ref")]
    graph.append(
        f"[ref]{timeline()},split={n_trials}" + "".join(f"[ref{k}]" for k in range(n_trials))
        if n_trials > 1
        else f"[ref]{timeline()}[ref0]"
    )
    logs = [os.path.join(work_dir, f"vmaf_{k}.json") for k in range(n_trials)]

    def vmaf(every: int) -> str:
        return "libvmaf=model=version=vmaf_v0.6.1:n_threads=1:shortest=1:log_fmt=json" f":n_subsample={max(1, every)}"

    upscale = f"scale={width}:{height}:flags=bicubic,setsar=1,format=yuv420p"
    for k in range(n_trials):
        graph.append(
            f"[{k}:v:0]{timeline()},{upscale}[d{k}];"
            f"[d{k}][ref{k}]{vmaf(options.vmaf_subsample)}:log_path={logs[k]}[v{k}]"
        )
    outputs = [f"[v{k}]" for k in range(n_trials)]
    cal_logs = [os.path.join(work_dir, f"vmaf_calibration_{j}.json") for j in range(len(cal_files))]
    if cal is not None:
        first = n_trials + n_chunks
        n_cal = len(cal_files)
        for path in cal_files:
            inputs += raw_input(path)
        inputs += _span_inputs(source, cal.spans)
        graph.append(_joined(cal.spans, first + n_cal, "calref"))
        graph.append(
            f"[calref]{timeline()},split={n_cal}" + "".join(f"[calr{j}]" for j in range(n_cal))
            if n_cal > 1
            else f"[calref]{timeline()}[calr0]"
        )
        for j in range(n_cal):
            graph.append(
                f"[{first + j}:v:0]{timeline()},{upscale}[cald{j}];"
                f"[cald{j}][calr{j}]{vmaf(options.calibration_subsample)}:log_path={cal_logs[j]}[vcal{j}]"
            )
            outputs.append(f"[vcal{j}]")
    args = [*inputs, "-filter_complex", ";".join(graph)]
    for label in outputs:
        args += ["-map", label, "-fps_mode", "passthrough", "-f", "null", "-"]
    score_run = run_ffmpeg(
        args,
        max(plan.sample_s, cal.seconds if cal else 0.0),
        (lambda f: progress(0.5 + 0.5 * f)) if progress else None,
        stop=stop,
    )

    points: list[TrialPoint] = []
    for ((w, h), crf), path, log in zip(trials, files, logs):
        sizes, keys = _frame_sizes(path)
        points.append(trial_point(w, h, crf, _pooled_vmaf(log), sizes, keys, plan, fps))
    calibration: Optional[dict[str, Any]] = None
    if cal is not None:
        title: list[TrialPoint] = []
        for crf, path, log in zip(cal.crfs, cal_files, cal_logs):
            sizes, keys = _frame_sizes(path)
            title.append(trial_point(*cal.resolution, crf, _pooled_vmaf(log), sizes, keys, plan, fps))
        factors, points = calibrate(points, cal.resolution, [(t.bitrate_kbps, t.vmaf) for t in title])
        calibration = {
            "resolution": f"{cal.resolution[0]}x{cal.resolution[1]}",
            "title_points": [t.as_dict() for t in title],
            "rate_factors": [[round(v, 2), round(f, 4)] for v, f in factors],
        }
    runs: list[FfmpegRun] = [encode_run, score_run]
    return TrialRun(
        points,
        sum(r.cpu_seconds for r in runs),
        sum(r.seconds for r in runs),
        calibration,
    )
