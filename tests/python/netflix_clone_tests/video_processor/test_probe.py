"""Probing real files made with ffmpeg: what is accepted, and every rejection with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from netflix_clone.video_processor.adapters.probe import probe
from netflix_clone.video_processor.domain.media import InvalidMedia, MediaLimits, validate
from netflix_clone_testing.media import ffmpeg, make_clip


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("media")
    make_clip(root / "good.mp4", seconds=3, extra=["-movflags", "+faststart"])
    make_clip(root / "plain.mp4", seconds=3, audio=False)
    ffmpeg(
        "-display_rotation",
        "90",
        "-i",
        str(root / "good.mp4"),
        "-c",
        "copy",
        str(root / "rotated.mp4"),
    )
    return root


def _rejection(path: Path, limits: MediaLimits = MediaLimits()) -> InvalidMedia:
    with pytest.raises(InvalidMedia) as caught:
        validate(probe(str(path)), limits)
    return caught.value


def test_a_good_file_is_described(media: Path) -> None:
    info = probe(str(media / "good.mp4"))
    validate(info, MediaLimits())
    assert info.video is not None
    assert (info.video.codec, info.video.width, info.video.height) == ("h264", 640, 360)
    assert info.video.frame_rate == pytest.approx(25.0)
    assert info.duration_s == pytest.approx(3.0, abs=0.1)
    assert [a.codec for a in info.audio] == ["aac"]
    assert "mp4" in info.container


def test_rotation_is_read_and_swaps_the_display_size(media: Path) -> None:
    info = probe(str(media / "rotated.mp4"))
    assert info.video is not None and info.video.rotation in (90, 270)
    assert info.video.display_size == (360, 640)


def test_zero_byte_file(tmp_path: Path) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert _rejection(tmp_path / "empty.mp4").reason == "empty_file"


@pytest.mark.parametrize("name", ["good.mp4", "plain.mp4"])
def test_truncated_files(media: Path, tmp_path: Path, name: str) -> None:
    # faststart (index first: the data runs out) and plain (index last: the index is missing).
    data = (media / name).read_bytes()
    cut = tmp_path / f"cut-{name}"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    assert _rejection(cut).reason == "truncated"


def test_not_a_video(tmp_path: Path) -> None:
    (tmp_path / "notes.mp4").write_text("these are not the frames you are looking for\n" * 50)
    rejection = _rejection(tmp_path / "notes.mp4")
    assert rejection.reason == "not_a_video" and "notes.mp4" in rejection.detail


def test_audio_only_has_no_video_stream(tmp_path: Path) -> None:
    ffmpeg("-f", "lavfi", "-i", "sine=duration=2", str(tmp_path / "tone.m4a"))
    assert _rejection(tmp_path / "tone.m4a").reason == "no_video_stream"


def test_unsupported_codec(tmp_path: Path) -> None:
    make_clip(tmp_path / "old.mkv", seconds=1, audio=False, codec="mpeg1video")
    rejection = _rejection(tmp_path / "old.mkv")
    assert rejection.reason == "unsupported_codec" and "mpeg1video" in rejection.detail


def test_absurd_dimensions_and_durations_by_configured_limits(media: Path) -> None:
    tight = MediaLimits(max_width=320, max_height=240)
    assert _rejection(media / "good.mp4", tight).reason == "dimensions_out_of_range"
    short = MediaLimits(max_duration_s=2.0)
    assert _rejection(media / "good.mp4", short).reason == "duration_out_of_range"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidMedia, match="cannot read"):
        probe(str(tmp_path / "nope.mp4"))
