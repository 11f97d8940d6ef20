"""The ladder encode: one ffmpeg process decodes the source once and encodes every rung (split filter).

Keyframes are forced at every segment boundary (and scene-cut keyframes disabled) so all renditions
switch cleanly at the same instants; bitrates are VBV-capped; audio is encoded once as AAC and shared
by every variant through an HLS audio group. ffmpeg writes the media playlists and segments; the
master playlist is ours (see ``domain.playlists``).
"""

from __future__ import annotations

import os
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


@dataclass(frozen=True)
class EncodeOptions:
    segment_s: int = 6  # Apple's recommended target duration
    segment_format: str = "ts"  # ts | fmp4 (CMAF); HEVC and AV1 always use fmp4
    preset: str = "fast"
    audio_kbps: int = 128

    def effective_format(self, codec: str) -> str:
        return "fmp4" if CODECS[codec].fmp4_only else self.segment_format

    def as_dict(self) -> dict[str, object]:
        return {
            "segment_s": self.segment_s,
            "segment_format": self.segment_format,
            "preset": self.preset,
            "audio_kbps": self.audio_kbps,
        }


def _gop(rung: Rung, segment_s: int) -> int:
    return max(1, int(round(rung.frame_rate * segment_s)))


def rung_video_args(index: int, rung: Rung, options: EncodeOptions) -> list[str]:
    """Encoder arguments for output video stream ``index``."""
    spec = CODECS[rung.codec]
    gop = _gop(rung, options.segment_s)
    # x264/x265: VBV-capped average bit rate. SVT-AV1 accepts a peak cap only in CRF mode, where it
    # overshot the cap on test content; AV1 rungs are VBR at the rung's average and the playlist's
    # BANDWIDTH declares the peak actually measured.
    cap = (
        []
        if rung.codec == "av1"
        else [
            f"-maxrate:v:{index}",
            f"{rung.maxrate_kbps}k",
            f"-bufsize:v:{index}",
            f"{rung.bufsize_kbps}k",
        ]
    )
    args = [
        f"-c:v:{index}",
        spec.encoder,
        f"-b:v:{index}",
        f"{rung.bitrate_kbps}k",
        *cap,
        f"-g:v:{index}",
        str(gop),
        f"-keyint_min:v:{index}",
        str(gop),
    ]
    if rung.codec == "h264":
        args += [
            f"-profile:v:{index}",
            "high",
            f"-preset:v:{index}",
            options.preset,
            f"-sc_threshold:v:{index}",
            "0",
        ]
    elif rung.codec == "hevc":
        args += [
            f"-preset:v:{index}",
            options.preset,
            f"-tag:v:{index}",
            "hvc1",
            f"-x265-params:v:{index}",
            f"keyint={gop}:min-keyint={gop}:scenecut=0:open-gop=0:log-level=error",
        ]
    else:
        args += [f"-preset:v:{index}", "10", f"-svtav1-params:v:{index}", "scd=0"]
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


def ladder_command(
    source: str, info: MediaInfo, rungs: list[Rung], out_dir: str, options: EncodeOptions
) -> list[str]:
    """ffmpeg arguments (without the binary) for the one-pass ladder into ``out_dir/<rung name>/``."""
    if not rungs or info.video is None:
        raise ValueError("nothing to encode")
    codec = rungs[0].codec
    fmt = options.effective_format(codec)
    has_audio = bool(info.audio)
    args = ["-i", source, "-filter_complex", _filter_graph(rungs, info.video.frame_rate)]
    for i in range(len(rungs)):
        args += ["-map", f"[o{i}]"]
    if has_audio:
        args += ["-map", "0:a:0"]
    boundary = f"expr:gte(t,n_forced*{options.segment_s})"
    args += ["-force_key_frames", boundary]
    for i, rung in enumerate(rungs):
        args += rung_video_args(i, rung, options)
    if has_audio:
        args += ["-c:a", "aac", "-b:a", f"{options.audio_kbps}k", "-ac", "2"]
    stream_map = [
        f"v:{i},agroup:aud,name:{rung.name}" if has_audio else f"v:{i},name:{rung.name}"
        for i, rung in enumerate(rungs)
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
    command = ladder_command(source, info, rungs, out_dir, options)
    return run_ffmpeg(command, info.duration_s, progress, timeout_s, stop)


def encode_separately(
    source: str, info: MediaInfo, rungs: list[Rung], out_dir: str, options: EncodeOptions
) -> list[FfmpegRun]:
    """The naive alternative the benchmark compares against: one decode + encode per rung."""
    runs = []
    for i, rung in enumerate(rungs):
        # Audio once, as in the one-pass ladder, so only the video work differs.
        pass_info = info if i == 0 else replace(info, audio=())
        runs.append(
            encode_ladder(
                source, pass_info, [rung], os.path.join(out_dir, rung.name + "-alone"), options
            )
        )
    return runs
