"""Small test clips made on the spot with ffmpeg's lavfi sources (no media is committed)."""

from __future__ import annotations

import subprocess  # nosec B404
from pathlib import Path
from typing import Optional

import imageio_ffmpeg


def ffmpeg(*args: str) -> None:
    subprocess.run(  # nosec B603
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-v", "error", "-y", *args],
        check=True,
        timeout=300,
    )


def make_clip(
    path: Path,
    seconds: float = 3.0,
    size: str = "640x360",
    rate: int = 25,
    audio: bool = True,
    black_lead_s: float = 0.0,
    codec: str = "libx264",
    extra: Optional[list[str]] = None,
) -> Path:
    """testsrc2 (moving, detailed) with an optional black lead-in, plus a sine tone."""
    inputs = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]
    graph = "[0:v]format=yuv420p[v]"
    if black_lead_s > 0:
        inputs += [
            "-f",
            "lavfi",
            "-i",
            f"color=black:size={size}:rate={rate}:duration={black_lead_s}",
        ]
        graph = "[1:v][0:v]concat=n=2:v=1:a=0,format=yuv420p[v]"
    if audio:
        inputs += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds + black_lead_s}"]
    args = [*inputs, "-filter_complex", graph, "-map", "[v]"]
    if audio:
        args += ["-map", f"{len(inputs) // 4 - 1}:a", "-c:a", "aac"]
    args += ["-c:v", codec]
    if codec == "libx264":
        args += ["-preset", "veryfast", "-crf", "18"]
    args += [*(extra or []), str(path)]
    ffmpeg(*args)
    return path
