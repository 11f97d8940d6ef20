from __future__ import annotations

from dataclasses import replace

import pytest

from netflix_clone.video_processor.domain.media import (
    AudioStream,
    InvalidMedia,
    MediaInfo,
    MediaLimits,
    VideoStream,
    validate,
)

GOOD = MediaInfo(
    path="in.mp4",
    size_bytes=1_000_000,
    container="mov,mp4",
    duration_s=10.0,
    video=VideoStream("h264", 1920, 1080, 25.0, "yuv420p"),
    audio=(AudioStream("aac", 2, 48000),),
    video_end_s=9.96,
)


def test_a_normal_file_passes() -> None:
    validate(GOOD, MediaLimits())


@pytest.mark.parametrize(
    "info, reason",
    [
        (replace(GOOD, video=None), "no_video_stream"),
        (replace(GOOD, video=None, audio=()), "no_video_stream"),
        (replace(GOOD, video=VideoStream("theora", 640, 360, 25.0)), "unsupported_codec"),
        (replace(GOOD, video=VideoStream("h264", 8, 360, 25.0)), "dimensions_out_of_range"),
        (replace(GOOD, video=VideoStream("h264", 20000, 360, 25.0)), "dimensions_out_of_range"),
        (replace(GOOD, video=VideoStream("h264", 7680, 7680, 25.0)), "dimensions_out_of_range"),
        (replace(GOOD, duration_s=0.1), "duration_out_of_range"),
        (replace(GOOD, duration_s=30 * 3600.0, video_end_s=30 * 3600.0), "duration_out_of_range"),
        (replace(GOOD, video=VideoStream("h264", 640, 360, 0.2)), "frame_rate_out_of_range"),
        (replace(GOOD, video=VideoStream("h264", 640, 360, 1000.0)), "frame_rate_out_of_range"),
        (replace(GOOD, video_end_s=6.0), "truncated"),
        (replace(GOOD, size_bytes=60 * 1024**3), "file_too_large"),
    ],
)
def test_each_rule_rejects_with_its_reason(info: MediaInfo, reason: str) -> None:
    with pytest.raises(InvalidMedia) as caught:
        validate(info, MediaLimits())
    assert caught.value.reason == reason
    assert caught.value.detail  # a sentence for people, not just a code


def test_limits_are_configurable() -> None:
    strict = MediaLimits(max_width=1280, max_height=720, max_duration_s=5.0)
    with pytest.raises(InvalidMedia, match="dimensions_out_of_range"):
        validate(GOOD, strict)
    small = replace(GOOD, video=VideoStream("h264", 1280, 720, 25.0))
    with pytest.raises(InvalidMedia, match="duration_out_of_range"):
        validate(small, strict)
    validate(small, replace(strict, max_duration_s=60.0))


def test_rotation_swaps_the_displayed_size() -> None:
    portrait = VideoStream("h264", 1920, 1080, 30.0, rotation=90)
    assert portrait.display_size == (1080, 1920)
    assert VideoStream("h264", 1920, 1080, 30.0, rotation=180).display_size == (1920, 1080)


def test_a_few_frames_short_is_not_truncation() -> None:
    validate(replace(GOOD, video_end_s=9.9), MediaLimits())
