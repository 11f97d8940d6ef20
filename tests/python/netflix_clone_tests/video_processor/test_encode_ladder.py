"""A real encode of a short clip into an HLS ladder, checked the way a player and an auditor would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from netflix_clone.contracts.catalog import CatalogRecord
from netflix_clone.video_processor.adapters.catalog import SqliteCatalog
from netflix_clone.video_processor.adapters.encode import EncodeOptions
from netflix_clone.video_processor.adapters.probe import probe
from netflix_clone.video_processor.adapters.publish import LocalPublisher
from netflix_clone.video_processor.domain.playlists import parse_master, parse_media_playlist
from netflix_clone.video_processor.process import ProcessConfig, process_video
from netflix_clone_testing.media import make_clip, stream_header

SEGMENT_S = 2


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("ladder")
    # One black second first: the poster must not come from it.
    source = make_clip(root / "clip.mp4", seconds=5, size="640x360", black_lead_s=1.0)
    config = ProcessConfig(encode=EncodeOptions(segment_s=SEGMENT_S, preset="veryfast"), quality_subsample=2)
    progress: list[tuple[str, float]] = []
    catalog = SqliteCatalog(str(root / "catalog.sqlite"))
    publisher = LocalPublisher(str(root / "out"))
    report = process_video(
        str(source),
        "clip",
        "Test Clip",
        config,
        publisher,
        catalog,
        lambda s, f: progress.append((s, f)),
    )
    again = process_video(str(source), "clip", "Test Clip", config, publisher, catalog)
    return {
        "root": root,
        "source": source,
        "report": report,
        "again": again,
        "progress": progress,
        "catalog": catalog,
        "dir": Path(report["location"][len("file://") :]),
    }


def test_ladder_follows_the_source(job: dict[str, Any]) -> None:
    names = [r["name"] for r in job["report"]["renditions"]]
    assert names == ["234p-145k", "360p-365k"]  # no rung above the 360p source


def test_every_rendition_is_playable_at_its_planned_size(job: dict[str, Any]) -> None:
    for rendition in job["report"]["renditions"]:
        playlist_path = job["dir"] / rendition["playlist"]
        playlist = parse_media_playlist(playlist_path.read_text())
        assert playlist.ended and playlist.playlist_type == "VOD"
        assert playlist.duration_s == pytest.approx(6.0, abs=0.2)
        for segment in playlist.segments:
            info = probe(str(playlist_path.parent / segment.uri), scan_packets=False)
            assert info.video is not None
            assert (info.video.width, info.video.height) == (
                rendition["width"],
                rendition["height"],
            )
            assert info.video.codec == "h264"


def test_segments_start_on_keyframes_at_the_same_instants(job: dict[str, Any]) -> None:
    starts: dict[str, list[float]] = {}
    for rendition in job["report"]["renditions"]:
        playlist_path = job["dir"] / rendition["playlist"]
        playlist = parse_media_playlist(playlist_path.read_text())
        times = []
        for segment in playlist.segments:
            with av.open(str(playlist_path.parent / segment.uri)) as container:
                packet = next(p for p in container.demux(video=0) if p.size)
                assert packet.is_keyframe, f"{rendition['name']}/{segment.uri} does not open on a keyframe"
        times = [s.duration_s for s in playlist.segments]
        starts[rendition["name"]] = times
    assert len({tuple(t) for t in starts.values()}) == 1  # identical segmentation on every rung


def test_master_playlist_carries_measured_attributes(job: dict[str, Any]) -> None:
    variants, media = parse_master((job["dir"] / "master.m3u8").read_text())
    assert len(variants) == 2 and media[0]["TYPE"] == "AUDIO"
    for variant, rendition in zip(variants, job["report"]["renditions"]):
        assert variant["RESOLUTION"] == f"{rendition['width']}x{rendition['height']}"
        assert int(variant["BANDWIDTH"]) >= int(variant["AVERAGE-BANDWIDTH"]) > 0
        assert variant["CODECS"].startswith("avc1.64") and variant["CODECS"].endswith(",mp4a.40.2")
        assert float(variant["FRAME-RATE"]) == pytest.approx(25.0)
        # Two-pass rate control and the container model: the rendition delivers its name.
        assert rendition["video_average_kbps"] == pytest.approx(rendition["bitrate_kbps"], rel=0.1)
    assert int(variants[0]["BANDWIDTH"]) < int(variants[1]["BANDWIDTH"])


def test_codecs_declares_exactly_what_each_sps_says(job: dict[str, Any]) -> None:
    """Issue 16: the 234p rung was declared level 3.0 while its stream said 1.3."""
    variants, _ = parse_master((job["dir"] / "master.m3u8").read_text())
    for variant, rendition in zip(variants, job["report"]["renditions"]):
        sps = stream_header(job["dir"] / rendition["name"])
        declared = variant["CODECS"].split(",")[0]
        assert declared == f"avc1.{sps['profile']:02x}{sps['constraints']:02x}{sps['level']:02x}"
        assert sps["level"] == rendition["level_planned"]  # the level computed and passed to x264
    low, high = (stream_header(job["dir"] / r["name"]) for r in job["report"]["renditions"])
    assert (low["level"], high["level"]) == (13, 30)  # 416x234 and 640x360 at 25 fps


def test_quality_report_has_vmaf_psnr_ssim_and_orders_rungs(job: dict[str, Any]) -> None:
    quality = json.loads((job["dir"] / "quality.json").read_text())
    assert quality["metric"] == "vmaf_v0.6.1"
    low, high = quality["renditions"]
    for q in (low, high):
        assert 0 < q["vmaf"] <= 100 and q["psnr_y_db"] > 20 and 0.5 < q["ssim"] <= 1
        assert q["frames_scored"] >= 60 // 2 - 2  # every 2nd of ~150 frames
    assert high["vmaf"] > low["vmaf"]


def test_thumbnails_poster_is_not_black(job: dict[str, Any]) -> None:
    thumbs = job["report"]["thumbnails"]
    poster = Image.open(job["dir"] / thumbs["poster"])
    luma = np.asarray(poster.convert("L"), dtype=float)
    assert luma.mean() > 30 and luma.std() > 12
    assert thumbs["poster_time_s"] >= 1.0
    sprite = Image.open(job["dir"] / thumbs["sprite"])
    vtt = (job["dir"] / thumbs["vtt"]).read_text()
    cues = [line for line in vtt.splitlines() if "#xywh=" in line]
    assert vtt.startswith("WEBVTT") and len(cues) == thumbs["count"] == 10
    x, y, w, h = map(int, cues[-1].split("#xywh=")[1].split(","))
    assert x + w <= sprite.width and y + h <= sprite.height


def test_progress_rises_to_one_through_the_stages(job: dict[str, Any]) -> None:
    fractions = [f for _, f in job["progress"]]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    stages = list(dict.fromkeys(s for s, _ in job["progress"]))
    assert stages == ["probe", "hash", "encode", "quality", "thumbnails", "publish"]
    assert sum(1 for s, _ in job["progress"] if s == "encode") > 2  # ffmpeg's -progress reached us


def test_idempotent_rerun_reuses_the_published_ladder(job: dict[str, Any]) -> None:
    assert job["again"]["reused"] is True
    assert job["again"]["job_key"] == job["report"]["job_key"]
    assert job["again"]["location"] == job["report"]["location"]
    assert not list((job["root"] / "out" / ".staging").iterdir())
    assert len(list((job["root"] / "out" / "titles" / "clip").iterdir())) == 1


def test_catalog_row_written(job: dict[str, Any]) -> None:
    record = job["catalog"].get("clip")
    assert isinstance(record, CatalogRecord)
    assert record.name == "Test Clip" and record.job_key == job["report"]["job_key"]
    assert [r.name for r in record.renditions] == ["234p-145k", "360p-365k"]
    assert record.renditions[1].vmaf == job["report"]["renditions"][1]["quality"]["vmaf"]
    assert (record.width, record.height) == (640, 360)


def test_fmp4_segments_option(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "short.mp4", seconds=2, size="320x180")
    config = ProcessConfig(
        encode=EncodeOptions(segment_s=1, segment_format="fmp4", preset="ultrafast"),
        quality_subsample=5,
    )
    report = process_video(str(source), "short", "Short", config, LocalPublisher(str(tmp_path / "out")))
    base = Path(report["location"][len("file://") :])
    rendition = report["renditions"][0]
    playlist = parse_media_playlist((base / rendition["playlist"]).read_text())
    assert playlist.map_uri and (base / rendition["name"] / playlist.map_uri).stat().st_size > 0
    assert playlist.segments[0].uri.endswith(".m4s")
    assert "#EXT-X-VERSION:7" in (base / "master.m3u8").read_text()
    assert (rendition["width"], rendition["height"]) == (320, 180)


@pytest.mark.parametrize("codec, probed, tag", [("hevc", "hevc", "hvc1."), ("av1", "av1", "av01.")])
def test_hevc_and_av1_ladders_in_cmaf_segments(tmp_path: Path, codec: str, probed: str, tag: str) -> None:
    source = make_clip(tmp_path / "in.mp4", seconds=2, size="640x360")
    config = ProcessConfig(codec=codec, encode=EncodeOptions(segment_s=1, preset="ultrafast"), quality_subsample=5)
    report = process_video(str(source), codec, codec, config, LocalPublisher(str(tmp_path / "out")))
    base = Path(report["location"][len("file://") :])
    variants, _ = parse_master((base / "master.m3u8").read_text())
    assert "#EXT-X-VERSION:7" in (base / "master.m3u8").read_text()  # fMP4 even though TS was asked for
    for variant, rendition in zip(variants, report["renditions"]):
        assert variant["CODECS"].startswith(tag)
        header = stream_header(base / rendition["name"])
        assert header["codec"] == codec and header["level"] == rendition["level_planned"]
        assert rendition["level_declared"] == header["level"]
        playlist = parse_media_playlist((base / rendition["playlist"]).read_text())
        assert playlist.map_uri and playlist.segments[0].uri.endswith(".m4s")
        # Init segment + first media segment, as a player would fetch them, must decode as the codec.
        rendition_dir = base / rendition["name"]
        joined = tmp_path / f"{rendition['name']}.mp4"
        joined.write_bytes(
            (rendition_dir / playlist.map_uri).read_bytes() + (rendition_dir / playlist.segments[0].uri).read_bytes()
        )
        info = probe(str(joined), scan_packets=False)
        assert info.video is not None and info.video.codec == probed
        assert rendition["quality"]["vmaf"] > 30
