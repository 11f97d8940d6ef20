from __future__ import annotations

import pytest

from netflix_clone.video_processor.domain.jobs import job_key, next_state_after_failure
from netflix_clone.video_processor.domain.playlists import (
    AudioRendition,
    PlaylistError,
    Variant,
    measure_bandwidth,
    parse_attributes,
    parse_master,
    parse_media_playlist,
    render_master,
)
from netflix_clone.video_processor.domain.thumbnails import (
    FrameStats,
    choose_poster,
    render_thumbnails_vtt,
    sprite_layout,
)

MEDIA = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="init.mp4"
#EXTINF:6.000000,
seg_00000.m4s
#EXTINF:6.000000,
seg_00001.m4s
#EXTINF:1.500000,
seg_00002.m4s
#EXT-X-ENDLIST
"""


def test_media_playlist_parses() -> None:
    playlist = parse_media_playlist(MEDIA)
    assert playlist.target_duration == 6 and playlist.ended and playlist.playlist_type == "VOD"
    assert playlist.map_uri == "init.mp4" and playlist.independent_segments
    assert [s.uri for s in playlist.segments] == ["seg_00000.m4s", "seg_00001.m4s", "seg_00002.m4s"]
    assert playlist.duration_s == pytest.approx(13.5)


def test_bad_playlists_are_refused() -> None:
    with pytest.raises(PlaylistError, match="EXTM3U"):
        parse_media_playlist("seg.ts\n")
    with pytest.raises(PlaylistError, match="target"):
        parse_media_playlist(MEDIA.replace("#EXTINF:1.500000", "#EXTINF:9.000000"))


def test_bandwidth_is_measured_from_segment_sizes() -> None:
    playlist = parse_media_playlist(MEDIA)
    sizes = {"seg_00000.m4s": 750_000, "seg_00001.m4s": 1_500_000, "seg_00002.m4s": 100_000}
    peak, average = measure_bandwidth(playlist, sizes, init_size=1000)
    assert peak == 2_000_000  # the 1.5 MB segment over 6 s
    assert average == round((750_000 + 1_500_000 + 100_000 + 1000) * 8 / 13.5)
    with pytest.raises(PlaylistError, match="missing"):
        measure_bandwidth(playlist, {"seg_00000.m4s": 1})


def test_master_playlist_round_trips_with_the_required_attributes() -> None:
    audio = AudioRendition("audio/index.m3u8", language="en", peak_bps=130_000, average_bps=128_000)
    variants = [
        Variant("720p/index.m3u8", 3_300_000, 3_000_000, 1280, 720, 25.0, "avc1.64001f,mp4a.40.2", "aud"),
        Variant("360p/index.m3u8", 400_000, 365_000, 640, 360, 25.0, "avc1.64001e,mp4a.40.2", "aud"),
    ]
    text = render_master(variants, audio, fmp4=True)
    parsed, media = parse_master(text)
    assert [v["URI"] for v in parsed] == ["360p/index.m3u8", "720p/index.m3u8"]
    assert parsed[0]["BANDWIDTH"] == "530000" and parsed[0]["AVERAGE-BANDWIDTH"] == "493000"
    assert parsed[1]["RESOLUTION"] == "1280x720" and parsed[1]["FRAME-RATE"] == "25.000"
    assert parsed[1]["CODECS"] == "avc1.64001f,mp4a.40.2" and parsed[1]["AUDIO"] == "aud"
    assert media[0]["TYPE"] == "AUDIO" and media[0]["LANGUAGE"] == "en"
    assert "#EXT-X-VERSION:7" in text


def test_attribute_lists_keep_quoted_commas() -> None:
    assert parse_attributes('BANDWIDTH=1,CODECS="avc1.64001f,mp4a.40.2",X=y') == {
        "BANDWIDTH": "1",
        "CODECS": "avc1.64001f,mp4a.40.2",
        "X": "y",
    }


def test_poster_avoids_black_blank_and_blown_out_frames() -> None:
    frames = [
        FrameStats(0.5, 3.0, 1.0),  # black
        FrameStats(1.0, 128.0, 2.0),  # flat grey slate
        FrameStats(2.0, 250.0, 5.0),  # white flash
        FrameStats(3.0, 110.0, 45.0),  # a real picture
        FrameStats(4.0, 90.0, 30.0),
    ]
    assert choose_poster(frames).time_s == 3.0
    assert choose_poster([FrameStats(0.0, 10.0, 4.0), FrameStats(1.0, 12.0, 8.0)]).time_s == 1.0


def test_sprite_layout_and_vtt_cues() -> None:
    tiles, size = sprite_layout(25.0, 10.0, 160, 90, columns=2)
    assert size == (320, 180)
    assert [(t.x, t.y) for t in tiles] == [(0, 0), (160, 0), (0, 90)]
    assert tiles[-1].end_s == 25.0
    vtt = render_thumbnails_vtt(tiles, "sprite.jpg")
    assert vtt.startswith("WEBVTT\n")
    assert "00:00:20.000 --> 00:00:25.000\nsprite.jpg#xywh=0,90,160,90" in vtt
    tiles, _ = sprite_layout(6.0000001, 0.6, 160, 90, columns=10)
    assert len(tiles) == 10 and tiles[-1].end_s > tiles[-1].start_s


def test_job_keys_and_failure_states() -> None:
    settings = {"codec": "h264", "encode": {"segment_s": 6}}
    assert job_key("ab" * 32, settings) == job_key("ab" * 32, {"encode": {"segment_s": 6}, "codec": "h264"})
    assert job_key("ab" * 32, settings) != job_key("ab" * 32, {**settings, "codec": "hevc"})
    assert job_key("ab" * 32, settings) != job_key("cd" * 32, settings)
    assert next_state_after_failure(1, 3, permanent=True, reason="bad").state == "failed"
    retry = next_state_after_failure(2, 3, permanent=False, reason="ffmpeg crashed")
    assert retry.state == "queued" and retry.retry_in_s == 10.0
    final = next_state_after_failure(3, 3, permanent=False, reason="ffmpeg crashed")
    assert final.state == "failed" and "gave up after 3 attempts" in final.reason
