"""Processing one video, end to end: hash, probe, plan, encode, measure, score, thumbnail, publish, catalog.

The job key is derived from the input's bytes and every setting that changes the output, so the same
job always writes the same names; a job whose manifest is already published is not redone.

This is the *process* use case (the worker's is ``worker.py``): it wires the domain's ladder and
per-title rules to the ffmpeg, quality, thumbnail, publish and catalog adapters.

Long module: the stages of one job in order (plan, encode, measure, score, thumbnail, stage, publish,
catalog row), each a few lines of wiring over an adapter; split, the order would be spread over files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from netflix_clone.contracts.catalog import CatalogRecord, RenditionRecord, check_title_id
from netflix_clone.video_processor.adapters.bitstream import rendition_stream_config
from netflix_clone.video_processor.adapters.encode import EncodeOptions, encode_ladder
from netflix_clone.video_processor.adapters.probe import probe
from netflix_clone.video_processor.adapters.publish import MANIFEST, Publisher
from netflix_clone.video_processor.adapters.quality import score_rendition
from netflix_clone.video_processor.adapters.thumbnails import ThumbnailOptions, make_thumbnails
from netflix_clone.video_processor.adapters.trials import run_trials
from netflix_clone.video_processor.domain.jobs import job_key
from netflix_clone.video_processor.domain.ladder import (
    AUDIO_CODECS_TAG,
    Rung,
    SourceBudget,
    default_ladder,
    rung_frame_rate,
    source_cap_kbps,
)
from netflix_clone.video_processor.domain.levels import H264Encoding, x264_encoding
from netflix_clone.video_processor.domain.media import MediaInfo, MediaLimits, validate
from netflix_clone.video_processor.domain.per_title import PerTitleLimits, TrialOptions, plan_trials, select_rungs
from netflix_clone.video_processor.domain.playlists import (
    AudioRendition,
    Variant,
    measure_bandwidth,
    parse_media_playlist,
    render_master,
)

__all__ = ["ProcessConfig", "Progress", "file_sha256", "plan_ladder", "process_video"]

Progress = Callable[[str, float], None]

# Share of the job's progress bar each stage takes (per-title planning only when enabled).
_WEIGHTS = {
    "probe": 0.02,
    "hash": 0.02,
    "plan": 0.20,
    "encode": 0.50,
    "quality": 0.15,
    "thumbnails": 0.05,
    "publish": 0.06,
}


@dataclass(frozen=True)
class ProcessConfig:
    codec: str = "h264"
    mode: str = "default"  # default | per-title
    max_rungs: Optional[int] = None
    encode: EncodeOptions = field(default_factory=EncodeOptions)
    limits: MediaLimits = field(default_factory=MediaLimits)
    per_title: PerTitleLimits = field(default_factory=PerTitleLimits)
    trials: TrialOptions = field(default_factory=TrialOptions)
    thumbnails: ThumbnailOptions = field(default_factory=ThumbnailOptions)
    quality_subsample: int = 5
    timeout_s: Optional[float] = None  # per ffmpeg step

    def output_settings(self) -> dict[str, Any]:
        """Every setting that changes the published bytes (and so the job key)."""
        settings: dict[str, Any] = {
            "codec": self.codec,
            "mode": self.mode,
            "max_rungs": self.max_rungs,
            "encode": self.encode.as_dict(),
            "thumbnails": asdict(self.thumbnails),
            "quality_subsample": self.quality_subsample,
            "layout": 2,  # 2: two-pass rate control, levels, source cap, bit-exact output
        }
        if self.mode == "per-title":
            settings["per_title"] = asdict(self.per_title)
            settings["trials"] = asdict(self.trials)
        return settings


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _Stages:
    def __init__(self, progress: Optional[Progress], per_title: bool) -> None:
        self.progress = progress
        weights = dict(_WEIGHTS)
        if not per_title:
            weights["plan"] = 0.0
        total = sum(weights.values())
        self.offsets: dict[str, tuple[float, float]] = {}
        at = 0.0
        for stage, weight in weights.items():
            self.offsets[stage] = (at, weight / total)
            at += weight / total
        self.timings: dict[str, float] = {}
        self._stage_started = time.perf_counter()

    def start(self, stage: str) -> Callable[[float], None]:
        self._stage_started = time.perf_counter()
        offset, weight = self.offsets[stage]
        if weight == 0.0:
            return lambda fraction: None

        def report(fraction: float) -> None:
            if self.progress is not None:
                self.progress(stage, min(1.0, offset + weight * max(0.0, min(1.0, fraction))))

        report(0.0)
        return report

    def finish(self, stage: str) -> None:
        self.timings[stage] = round(time.perf_counter() - self._stage_started, 3)


def _h264(config: ProcessConfig) -> H264Encoding:
    return x264_encoding(config.encode.preset) if config.codec == "h264" else H264Encoding()


def source_budget(info: MediaInfo) -> SourceBudget:
    assert info.video is not None  # nosec B101 - validate() guarantees a video stream
    width, height = info.video.display_size
    kbps = info.video_kbps or (info.video.bit_rate / 1000 if info.video.bit_rate else None)
    return SourceBudget(info.video.codec, kbps, width, height, info.video.frame_rate)


def plan_ladder(
    source: str,
    info: MediaInfo,
    config: ProcessConfig,
    work_dir: str,
    report: Optional[Callable[[float], None]] = None,
    stop: Optional[threading.Event] = None,
) -> tuple[list[Rung], dict[str, Any]]:
    assert info.video is not None  # nosec B101 - validate() guarantees a video stream
    width, height = info.video.display_size
    fps = info.video.frame_rate
    container = config.encode.effective_format(config.codec)
    h264 = _h264(config)
    budget = source_budget(info)
    ladder = default_ladder(
        width,
        height,
        fps,
        config.codec,
        config.max_rungs,
        peak_ratio=1.5,
        container=container,
        source=budget,
        h264=h264,
    )
    source_info = {
        "codec": budget.codec,
        "video_kbps": None if budget.kbps is None else round(budget.kbps, 1),
    }
    if config.mode != "per-title":
        return ladder, {
            "mode": "default",
            "method": "Apple HLS authoring table fitted to the source, capped at the source's bit rate",
            "source": source_info,
        }
    started = time.perf_counter()
    table = default_ladder(width, height, fps, config.codec, container=container, h264=h264)
    trial_plan = plan_trials(
        info.duration_s,
        fps,
        (width, height),
        [(r.width, r.height) for r in table],
        sum(r.width * r.height * r.frame_rate for r in ladder),
        config.encode.segment_s,
        config.trials,
    )
    run = run_trials(
        source,
        info,
        trial_plan,
        config.codec,
        os.path.join(work_dir, "trials"),
        config.trials,
        config.encode.preset,
        report,
        stop,
    )
    limits = config.per_title
    if config.max_rungs is not None:
        limits = PerTitleLimits(
            **{
                **asdict(limits),
                "max_rungs": config.max_rungs,
                "min_rungs": min(limits.min_rungs, config.max_rungs),
            }
        )
    fps_for = {res: rung_frame_rate(fps, min(res)) for res in trial_plan.resolutions}
    rungs, hull = select_rungs(
        run.points,
        limits,
        fps,
        config.codec,
        1.5,
        fps_for,
        container,
        h264,
        lambda w, h, f: source_cap_kbps(budget, w, h, f, config.codec),
    )
    return rungs, {
        "mode": "per-title",
        "method": "trial encodes on sampled chunks -> calibrated rate-quality curves -> "
        "rungs evenly spaced in predicted VMAF, steps <= 2x",
        "source": source_info,
        "trial_plan": trial_plan.as_dict(),
        "calibration": run.calibration,
        "trials": [p.as_dict() for p in run.points],
        "hull": [p.as_dict() for p in hull],
        "limits": asdict(limits),
        # CPU of the planning (trial encodes and scores); kept out of the published manifest.
        "_cpu_s": round(run.cpu_seconds, 3),
        "_wall_s": round(time.perf_counter() - started, 3),
    }


def _sizes(directory: str) -> dict[str, int]:
    return {name: os.path.getsize(os.path.join(directory, name)) for name in os.listdir(directory)}


def process_video(
    source: str,
    title_id: str,
    name: str,
    config: ProcessConfig,
    publisher: Publisher,
    catalog: Any = None,
    progress: Optional[Progress] = None,
    stop: Optional[threading.Event] = None,
    force: bool = False,
    info: Optional[MediaInfo] = None,
) -> dict[str, Any]:
    """Run the job; ``info`` is the probe the caller already made (and validated), if any.

    The published files are a function of the input bytes and the settings only: run statistics
    (CPU, wall time, speed) go to the returned report's ``run`` and never into the manifest.
    """
    started = time.perf_counter()
    check_title_id(title_id)  # before anything is read or written: the id becomes a path
    stages = _Stages(progress, config.mode == "per-title")

    stages.start("probe")
    if info is None:
        info = probe(source)
    validate(info, config.limits)
    stages.finish("probe")
    assert info.video is not None  # nosec B101 - validate() guarantees a video stream

    stages.start("hash")
    digest = file_sha256(source)
    stages.finish("hash")

    key = job_key(digest, config.output_settings())
    prefix = f"titles/{title_id}/{key}"
    existing = None if force else publisher.published_manifest(prefix)
    if existing is not None:
        report = dict(existing["report"])
        report["reused"] = True
        report["run"] = None
        report["seconds"] = round(time.perf_counter() - started, 3)
        if catalog is not None:
            catalog.upsert(_catalog_record(report, publisher.location(prefix)))
        return report

    staged = publisher.staging_dir(prefix)
    try:
        report, run = _produce(source, title_id, name, config, info, digest, key, staged, stages, stop)
        report["location"] = publisher.location(prefix)
        with open(os.path.join(staged, MANIFEST), "w", encoding="utf-8") as handle:
            json.dump({"job_key": key, "report": report}, handle, indent=2, sort_keys=True)
        publish_report = stages.start("publish")
        published = publisher.publish(staged, prefix)
        publish_report(1.0)
        stages.finish("publish")
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    report["location"] = published.location
    run["publish"] = published.counts
    run["timings_s"] = dict(stages.timings)
    report["run"] = run
    # Kept at the top level of the returned report for existing readers (quickstart); never published.
    report["encode"], report["timings_s"] = run["encode"], run["timings_s"]
    report["seconds"] = round(time.perf_counter() - started, 3)
    report["reused"] = False
    if catalog is not None:
        catalog.upsert(_catalog_record(report, published.location))
    return report


def _produce(
    source: str,
    title_id: str,
    name: str,
    config: ProcessConfig,
    info: MediaInfo,
    digest: str,
    key: str,
    staged: str,
    stages: _Stages,
    stop: Optional[threading.Event],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the deterministic report that is published, the run statistics that are not)."""
    assert info.video is not None  # nosec B101
    plan_report = stages.start("plan")
    scratch = os.path.join(staged, ".work")
    rungs, plan = plan_ladder(source, info, config, scratch, plan_report, stop)
    stages.finish("plan")
    run_stats: dict[str, Any] = {
        "plan_cpu_s": plan.pop("_cpu_s", 0.0),
        "plan_wall_s": plan.pop("_wall_s", 0.0),
    }

    encode_report = stages.start("encode")
    run = encode_ladder(source, info, rungs, staged, config.encode, encode_report, config.timeout_s, stop)
    stages.finish("encode")
    run_stats["encode"] = {
        "wall_s": round(run.seconds, 3),
        "cpu_s": round(run.cpu_seconds, 3),
        "speed_x_realtime": round(info.duration_s / run.seconds, 3) if run.seconds > 0 else None,
    }

    fmp4 = config.encode.effective_format(config.codec) == "fmp4"
    audio: Optional[AudioRendition] = None
    if info.audio:
        audio_dir = os.path.join(staged, "audio")
        playlist = parse_media_playlist(open(os.path.join(audio_dir, "index.m3u8"), encoding="utf-8").read())
        init = os.path.getsize(os.path.join(audio_dir, playlist.map_uri)) if playlist.map_uri else 0
        peak, average = measure_bandwidth(playlist, _sizes(audio_dir), init)
        audio = AudioRendition("audio/index.m3u8", language=info.audio[0].language, peak_bps=peak, average_bps=average)

    width, height = info.video.display_size
    quality_report = stages.start("quality")
    variants: list[Variant] = []
    renditions: list[dict[str, Any]] = []
    quality_cpu = 0.0
    for i, rung in enumerate(rungs):
        directory = os.path.join(staged, rung.name)
        playlist = parse_media_playlist(open(os.path.join(directory, "index.m3u8"), encoding="utf-8").read())
        init = os.path.getsize(os.path.join(directory, playlist.map_uri)) if playlist.map_uri else 0
        peak, average = measure_bandwidth(playlist, _sizes(directory), init)
        # CODECS states what the bitstream carries, read back from it (the plan's level was passed
        # to the encoder, so the two agree; the stream is the authority if they ever do not).
        stream = rendition_stream_config(directory, playlist)
        codecs = stream.codecs + (f",{AUDIO_CODECS_TAG}" if audio else "")
        variants.append(
            Variant(
                f"{rung.name}/index.m3u8",
                peak,
                average,
                rung.width,
                rung.height,
                rung.frame_rate,
                codecs,
                audio.group_id if audio else None,
            )
        )
        score = score_rendition(
            os.path.join(directory, "index.m3u8"),
            source,
            width,
            height,
            info.video.frame_rate,
            distorted_fps=rung.frame_rate,
            subsample=config.quality_subsample,
        )
        quality_cpu += score.cpu_seconds
        quality_report((i + 1) / len(rungs))
        renditions.append(
            {
                **rung.as_dict(),
                "codecs": codecs,
                "level_planned": rung.level,
                "level_declared": stream.level,
                "playlist": f"{rung.name}/index.m3u8",
                "segments": len(playlist.segments),
                "bandwidth": peak + (audio.peak_bps if audio else 0),
                "average_bandwidth": average + (audio.average_bps if audio else 0),
                "nominal_kbps": rung.bitrate_kbps,
                "video_average_kbps": round(average / 1000, 1),
                "video_peak_kbps": round(peak / 1000, 1),
                "delivered_vs_nominal": round(average / 1000 / rung.bitrate_kbps - 1.0, 4),
                "quality": score.as_dict(),
            }
        )
    stages.finish("quality")
    run_stats["quality_cpu_s"] = round(quality_cpu, 3)
    with open(os.path.join(staged, "master.m3u8"), "w", encoding="utf-8") as handle:
        handle.write(render_master(variants, audio, fmp4))

    thumbs_report = stages.start("thumbnails")
    thumbs = make_thumbnails(source, info.duration_s, staged, config.thumbnails)
    thumbs_report(1.0)
    stages.finish("thumbnails")
    shutil.rmtree(scratch, ignore_errors=True)

    report: dict[str, Any] = {
        "schema_version": 2,
        "job_key": key,
        "title_id": title_id,
        "name": name,
        "input": {**info.as_dict(), "path": os.path.basename(source), "sha256": digest},
        "settings": config.output_settings(),
        "ladder": plan,
        "master_playlist": "master.m3u8",
        "audio": None
        if audio is None
        else {"playlist": audio.uri, "peak_bps": audio.peak_bps, "average_bps": audio.average_bps},
        "renditions": renditions,
        "thumbnails": thumbs.as_dict(staged),
    }
    with open(os.path.join(staged, "quality.json"), "w", encoding="utf-8") as handle:
        json.dump(
            {
                "job_key": key,
                "title_id": title_id,
                "metric": "vmaf_v0.6.1",
                "subsample": config.quality_subsample,
                "renditions": [{"name": r["name"], **r["quality"]} for r in renditions],
            },
            handle,
            indent=2,
            sort_keys=True,
        )
    return report, run_stats


def _catalog_record(report: dict[str, Any], location: str) -> CatalogRecord:
    video = report["input"]["video"]
    return CatalogRecord(
        title_id=report["title_id"],
        name=report["name"],
        duration_s=float(report["input"]["duration_s"]),
        location=location,
        master_playlist=report["master_playlist"],
        poster=report["thumbnails"]["poster"],
        thumbnails_vtt=report["thumbnails"]["vtt"],
        job_key=report["job_key"],
        renditions=tuple(
            RenditionRecord(
                name=r["name"],
                width=r["width"],
                height=r["height"],
                frame_rate=r["frame_rate"],
                codecs=r["codecs"],
                bandwidth=r["bandwidth"],
                average_bandwidth=r["average_bandwidth"],
                playlist=r["playlist"],
                vmaf=r["quality"]["vmaf"],
                psnr_y_db=r["quality"]["psnr_y_db"],
                ssim=r["quality"]["ssim"],
            )
            for r in report["renditions"]
        ),
        published_at=time.time(),
        width=int(video["width"]),
        height=int(video["height"]),
    )
