"""The ladder encode: one ffmpeg process decodes the source once and encodes every rung (split filter).

Keyframes are forced at every segment boundary (and scene-cut keyframes disabled) so all renditions
switch cleanly at the same instants; audio is encoded once as AAC and shared by every variant through
an HLS audio group. ffmpeg writes the media playlists and segments; the master playlist is ours (see
``domain.playlists``).

Rate control is two-pass by default: a first pass (same graph, x264's fast first pass, output
discarded) writes per-rung statistics, and the second pass spends each rung's bits where the picture
needs them while landing on its average (one-pass ABR undershot short clips by 12-22 %). Peaks are
VBV-capped (x264/x265); every rung is given its computed level.

Reruns are byte-identical: thread counts are fixed (x264's and x265's output depends on them), and
``+bitexact`` with ``-map_metadata -1`` keeps encoder version strings, creation times and the
source's metadata out of the segments.
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass, replace
from typing import Optional

from netflix_clone.video_processor.adapters.ffmpeg import FfmpegRun, ProgressCallback, run_ffmpeg
from netflix_clone.video_processor.domain.ladder import CODECS, Rung
from netflix_clone.video_processor.domain.media import MediaInfo

__all__ = [
    "EncodeOptions",
    "encode_ladder",
    "encode_separately",
    "ladder_command",
    "rung_video_args",
]

BITEXACT = ["-fflags", "+bitexact", "-map_metadata", "-1", "-map_chapters", "-1"]


@dataclass(frozen=True)
class EncodeOptions:
    segment_s: int = 6  # Apple's recommended target duration
    segment_format: str = "ts"  # ts | fmp4 (CMAF); HEVC and AV1 always use fmp4
    preset: str = "fast"
    audio_kbps: int = 128
    two_pass: bool = True
    threads: int = 1  # per rung encoder (rungs run in parallel); see the module doc

    def effective_format(self, codec: str) -> str:
        return "fmp4" if CODECS[codec].fmp4_only else self.segment_format

    def as_dict(self) -> dict[str, object]:
        return {
            "segment_s": self.segment_s,
            "segment_format": self.segment_format,
            "preset": self.preset,
            "audio_kbps": self.audio_kbps,
            "two_pass": self.two_pass,
            "threads": self.threads,
        }


def _gop(rung: Rung, segment_s: int) -> int:
    return max(1, int(round(rung.frame_rate * segment_s)))


def rung_video_args(
    index: int,
    rung: Rung,
    options: EncodeOptions,
    pass_number: Optional[int] = None,
    passlog: Optional[str] = None,
) -> list[str]:
    """Encoder arguments for output video stream ``index`` (``pass_number`` 1 or 2 with ``passlog``)."""
    spec = CODECS[rung.codec]
    gop = _gop(rung, options.segment_s)
    v = f"v:{index}"
    # x264/x265: VBV-capped average bit rate. SVT-AV1 accepts a peak cap only in CRF mode, where it
    # overshot the cap on test content; AV1 rungs are VBR at the rung's average and the playlist's
    # BANDWIDTH declares the peak actually measured.
    cap = (
        []
        if rung.codec == "av1"
        else [f"-maxrate:{v}", f"{rung.maxrate_kbps}k", f"-bufsize:{v}", f"{rung.bufsize_kbps}k"]
    )
    args = [
        f"-c:{v}",
        spec.encoder,
        f"-b:{v}",
        f"{rung.encoder_kbps}k",
        *cap,
        f"-g:{v}",
        str(gop),
        f"-keyint_min:{v}",
        str(gop),
        f"-threads:{v}",
        str(options.threads),
        f"-flags:{v}",
        "+bitexact",
    ]
    two_pass = pass_number is not None and passlog is not None
    if rung.codec == "h264":
        args += [
            f"-profile:{v}",
            "high",
            f"-level:{v}",
            rung.level_option,
            f"-preset:{v}",
            options.preset,
            f"-sc_threshold:{v}",
            "0",
        ]
        if two_pass:
            args += [f"-pass:{v}", str(pass_number), f"-passlogfile:{v}", str(passlog)]
    elif rung.codec == "hevc":
        params = (
            f"keyint={gop}:min-keyint={gop}:scenecut=0:open-gop=0:log-level=error"
            f":level-idc={rung.level_option}:high-tier=0:frame-threads=1:pools={options.threads}"
        )
        if two_pass:
            params += f":pass={pass_number}:stats={passlog}"
        args += [
            f"-preset:{v}",
            options.preset,
            f"-tag:{v}",
            "hvc1",
            f"-x265-params:{v}",
            params,
        ]
    else:
        args += [
            f"-preset:{v}",
            "10",
            f"-svtav1-params:{v}",
            f"scd=0:level={rung.level_option}:lp={options.threads}",
        ]
        if two_pass:
            args += [f"-pass:{v}", str(pass_number), f"-passlogfile:{v}", str(passlog)]
    return args


def _filter_graph(rungs: list[Rung], source_fps: float) -> str:
    outputs = "".join(f"[s{i}]" for i in range(len(rungs)))
    parts = [f"[0:v:0]split={len(rungs)}{outputs}" if len(rungs) > 1 else "[0:v:0]null[s0]"]
    for i, rung in enumerate(rungs):
        chain = f"[s{i}]scale={rung.width}:{rung.height}:flags=lanczos,setsar=1"
        if abs(rung.frame_rate - source_fps) > 1e-3:
            chain += f",fps={rung.frame_rate:.6f}"
        parts.append(f"{chain},format=yuv420p[o{i}]")
    return ";".join(parts)


def _passlog(out_dir: str, index: int) -> str:
    return os.path.join(out_dir, ".passlog", f"rung{index}")


def ladder_command(
    source: str,
    info: MediaInfo,
    rungs: list[Rung],
    out_dir: str,
    options: EncodeOptions,
    pass_number: Optional[int] = None,
) -> list[str]:
    """ffmpeg arguments (without the binary) for the one-pass ladder into ``out_dir/<rung name>/``.

    ``pass_number`` 1 gives the statistics pass (every rung, output discarded, no audio); 2 the final
    pass reading them. Both keep stream ``i`` = rung ``i``, which is how ffmpeg names the log files.
    """
    if not rungs or info.video is None:
        raise ValueError("nothing to encode")
    codec = rungs[0].codec
    fmt = options.effective_format(codec)
    has_audio = bool(info.audio) and pass_number != 1
    args = ["-i", source, "-filter_complex", _filter_graph(rungs, info.video.frame_rate)]
    for i in range(len(rungs)):
        args += ["-map", f"[o{i}]"]
    if has_audio:
        args += ["-map", "0:a:0"]
    boundary = f"expr:gte(t,n_forced*{options.segment_s})"
    args += ["-force_key_frames", boundary]
    for i, rung in enumerate(rungs):
        passlog = _passlog(out_dir, i) if pass_number is not None else None
        args += rung_video_args(i, rung, options, pass_number, passlog)
    args += BITEXACT
    if pass_number == 1:
        return [*args, "-f", "null", "-"]
    if has_audio:
        args += [
            "-c:a",
            "aac",
            "-b:a",
            f"{options.audio_kbps}k",
            "-ac",
            "2",
            "-flags:a",
            "+bitexact",
        ]
    stream_map = [
        f"v:{i},agroup:aud,name:{rung.name}" if has_audio else f"v:{i},name:{rung.name}" for i, rung in enumerate(rungs)
    ]
    if has_audio:
        stream_map.append("a:0,agroup:aud,name:audio")
    extension = "m4s" if fmt == "fmp4" else "ts"
    args += [
        "-f",
        "hls",
        "-hls_time",
        str(options.segment_s),
        "-hls_playlist_type",
        "vod",
        "-hls_flags",
        "independent_segments",
        "-hls_segment_type",
        "fmp4" if fmt == "fmp4" else "mpegts",
        "-var_stream_map",
        " ".join(stream_map),
        "-hls_segment_filename",
        os.path.join(out_dir, "%v", f"seg_%05d.{extension}"),
    ]
    if fmt == "fmp4":
        args += ["-hls_fmp4_init_filename", "init.mp4"]
    args.append(os.path.join(out_dir, "%v", "index.m3u8"))
    return args


_FIRST_PASS_SHARE = 0.3  # of the progress bar: x264's fast first pass costs about 40 % of the second


def _combine(runs: list[FfmpegRun]) -> FfmpegRun:
    return FfmpegRun(
        sum(r.seconds for r in runs),
        sum(r.cpu_seconds for r in runs),
        sum(r.progress_updates for r in runs),
    )


def encode_ladder(
    source: str,
    info: MediaInfo,
    rungs: list[Rung],
    out_dir: str,
    options: EncodeOptions,
    progress: Optional[ProgressCallback] = None,
    timeout_s: Optional[float] = None,
    stop: Optional[threading.Event] = None,
) -> FfmpegRun:
    for rung in rungs:
        os.makedirs(os.path.join(out_dir, rung.name), exist_ok=True)
    if info.audio:
        os.makedirs(os.path.join(out_dir, "audio"), exist_ok=True)
    if not options.two_pass:
        command = ladder_command(source, info, rungs, out_dir, options)
        return run_ffmpeg(command, info.duration_s, progress, timeout_s, stop)
    logs = os.path.join(out_dir, ".passlog")
    os.makedirs(logs, exist_ok=True)
    share = _FIRST_PASS_SHARE

    def first(fraction: float) -> None:
        if progress is not None:
            progress(share * fraction)

    def second(fraction: float) -> None:
        if progress is not None:
            progress(share + (1.0 - share) * fraction)

    try:
        runs = [
            run_ffmpeg(
                ladder_command(source, info, rungs, out_dir, options, 1),
                info.duration_s,
                first,
                timeout_s,
                stop,
            ),
            run_ffmpeg(
                ladder_command(source, info, rungs, out_dir, options, 2),
                info.duration_s,
                second,
                timeout_s,
                stop,
            ),
        ]
    finally:
        shutil.rmtree(logs, ignore_errors=True)
    return _combine(runs)


def encode_separately(
    source: str, info: MediaInfo, rungs: list[Rung], out_dir: str, options: EncodeOptions
) -> list[FfmpegRun]:
    """The naive alternative the benchmark compares against: one decode + encode per rung."""
    runs = []
    for i, rung in enumerate(rungs):
        # Audio once, as in the one-pass ladder, so only the video work differs.
        pass_info = info if i == 0 else replace(info, audio=())
        runs.append(encode_ladder(source, pass_info, [rung], os.path.join(out_dir, rung.name + "-alone"), options))
    return runs
