"""What each ``video-processor`` command does, once :mod:`netflix_clone.video_processor.cli` parsed it.

Every command returns its exit code. Output: the human text on stdout, or with ``--json`` one JSON
value on stdout - for a single result an object carrying ``outcome`` and ``exit_code``, for the
listings (``jobs``, ``catalog``) the array of rows. A refused input or title id prints one
``rejected`` line on stderr and exits 2; anything else that fails raises, and
:func:`netflix_clone.platform.cli.run` reports it (one line, its exit code).
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

from netflix_clone.platform.errors import ExitCode
from netflix_clone.video_processor.settings import DEFAULT_OUTPUT

__all__ = [
    "cmd_catalog",
    "cmd_enqueue",
    "cmd_jobs",
    "cmd_plan",
    "cmd_probe",
    "cmd_process",
    "cmd_sample",
    "cmd_worker",
    "config_from_settings",
    "default_queue",
]


def default_queue(postgres_dsn: Optional[str]) -> str:
    """Where the queue lives when ``--queue`` is not given: the shared PostgreSQL, else a SQLite file."""
    return postgres_dsn or os.path.join(DEFAULT_OUTPUT, "jobs.sqlite")


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
    """A job's stored settings (as ``enqueue`` wrote them) -> the process configuration."""
    from netflix_clone.video_processor.adapters.encode import EncodeOptions
    from netflix_clone.video_processor.process import ProcessConfig

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
    from netflix_clone.video_processor.adapters.catalog import open_catalog

    return open_catalog(args.catalog or os.path.join(args.output, "catalog.sqlite"))


def _queue(args: argparse.Namespace) -> Any:
    from netflix_clone.video_processor.adapters.job_queue import open_queue

    return open_queue(args.queue or default_queue(None))


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


def _emit(args: argparse.Namespace, payload: Any, human: str, code: int = ExitCode.OK) -> int:
    """Print the result (see the module docstring) and return ``code``."""
    if args.json:
        if isinstance(payload, dict):
            outcome = "ok" if code == ExitCode.OK else "rejected" if code == ExitCode.USAGE else "failed"
            payload = {"outcome": outcome, "exit_code": int(code), **payload}
        print(json.dumps(payload, indent=2, default=str))
    else:
        print(human)
    return int(code)


def _reject(args: argparse.Namespace, key: str, reason: str, detail: str) -> int:
    """A refused input: one line on stderr, the reason in the JSON, exit 2."""
    print(f"video-processor: rejected ({reason}): {detail}", file=sys.stderr, flush=True)
    if args.json:
        return _emit(args, {key: False, "reason": reason, "detail": detail}, "", ExitCode.USAGE)
    return int(ExitCode.USAGE)


def _probe_accepted(args: argparse.Namespace) -> Any:
    """The probed input; raises InvalidMedia when it would be refused."""
    from netflix_clone.video_processor.adapters.probe import probe
    from netflix_clone.video_processor.domain.media import MediaLimits, validate

    info = probe(args.input)
    validate(info, MediaLimits())
    return info


def cmd_probe(args: argparse.Namespace) -> int:
    from netflix_clone.video_processor.errors import InvalidMedia

    try:
        info = _probe_accepted(args)
    except InvalidMedia as exc:
        return _reject(args, "accepted", exc.reason, exc.detail)
    data = info.as_dict()
    video = data["video"]
    assert isinstance(video, dict)  # nosec B101 - validate() guarantees a video stream
    return _emit(
        args,
        {"accepted": True, **data},
        f"{args.input}: {data['container']}, {data['duration_s']} s, "
        f"{video['codec']} {video['width']}x{video['height']} "
        f"@ {video['frame_rate']} fps, {len(info.audio)} audio track(s)",
    )


def cmd_plan(args: argparse.Namespace) -> int:
    import tempfile

    from netflix_clone.video_processor.errors import InvalidMedia
    from netflix_clone.video_processor.process import plan_ladder

    try:
        info = _probe_accepted(args)
    except InvalidMedia as exc:
        return _reject(args, "accepted", exc.reason, exc.detail)
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
    return _emit(args, {"rungs": [r.as_dict() for r in rungs], **plan}, "\n".join(lines))


def _title_id(args: argparse.Namespace) -> str:
    """``--title-id`` as given (checked against the catalog contract's pattern), or a safe id made
    from the input's file name ("Big Buck Bunny (2008).mp4" -> "Big-Buck-Bunny-2008")."""
    from netflix_clone.contracts.catalog import TITLE_ID_MAX_LENGTH, check_title_id

    if args.title_id is not None:
        return check_title_id(args.title_id)
    stem = os.path.splitext(os.path.basename(args.input))[0]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).lstrip("._-")[:TITLE_ID_MAX_LENGTH].rstrip("-")
    return check_title_id(slug)


def cmd_process(args: argparse.Namespace) -> int:
    from netflix_clone.contracts.catalog import InvalidTitleId
    from netflix_clone.video_processor.errors import InvalidMedia
    from netflix_clone.video_processor.process import process_video

    # Nothing is created (output root, staging, catalog file) before the id and the upload pass.
    try:
        title_id = _title_id(args)
    except InvalidTitleId as exc:
        return _reject(args, "ok", "invalid_title_id", str(exc))
    try:
        info = _probe_accepted(args)
        report = process_video(
            args.input,
            title_id,
            args.name or title_id,
            config_from_settings(_job_settings(args)),
            _publisher(args),
            _catalog(args),
            _ProgressPrinter(title_id),
            force=args.force,
            info=info,
        )
    except InvalidMedia as exc:
        return _reject(args, "ok", exc.reason, exc.detail)
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
    return _emit(args, {"ok": True, **report}, "\n".join(lines))


def cmd_enqueue(args: argparse.Namespace) -> int:
    from netflix_clone.contracts.catalog import InvalidTitleId

    try:
        title_id = _title_id(args)
    except InvalidTitleId as exc:
        return _reject(args, "accepted", "invalid_title_id", str(exc))
    job_id = _queue(args).enqueue(
        title_id,
        args.name or title_id,
        os.path.abspath(args.input),
        _job_settings(args),
        args.max_attempts,
    )
    return _emit(args, {"job_id": job_id}, f"queued job {job_id}")


def cmd_worker(args: argparse.Namespace) -> int:
    import signal
    import threading

    from netflix_clone.platform.ops_http import HealthChecks, OpsServer
    from netflix_clone.video_processor.metrics import WorkerMetrics
    from netflix_clone.video_processor.worker import run_worker

    shutdown = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: shutdown.set())
    queue = _queue(args)
    checks = HealthChecks()
    checks.register("queue", queue.ping)  # the queue's database answers
    metrics = WorkerMetrics()
    ops: Any = (
        OpsServer(checks, host=args.ops_host, port=args.ops_port, registry=metrics.registry)
        if args.ops_port
        else contextlib.nullcontext()
    )
    with ops:
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
            metrics=metrics,
        )
    return _emit(args, {"jobs": counts}, " ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "no jobs")


def cmd_jobs(args: argparse.Namespace) -> int:
    jobs = _queue(args).jobs(args.state)
    lines = [
        f"{j.id:>5} {j.state:<10} attempt {j.attempts}/{j.max_attempts} {j.progress * 100:5.1f}% "
        f"{j.stage or '':<10} {j.title_id}  {j.reason or ''}"
        for j in jobs
    ]
    return _emit(args, [j.as_dict() for j in jobs], "\n".join(lines) or "no jobs")


def cmd_catalog(args: argparse.Namespace) -> int:
    import msgspec

    records = _catalog(args).all()
    lines = [
        f"{r.title_id:<16} {r.name:<28} {r.duration_s:7.1f} s  {len(r.renditions)} rungs  "
        f"top {r.renditions[-1].width}x{r.renditions[-1].height} VMAF {r.renditions[-1].vmaf}"
        for r in records
    ]
    return _emit(args, [msgspec.to_builtins(r) for r in records], "\n".join(lines) or "the catalog is empty")


def cmd_sample(args: argparse.Namespace) -> int:
    from netflix_clone.video_processor.adapters.samples import write_sample

    origin = write_sample(
        args.output,
        clip=args.clip,
        pattern=args.pattern,
        synthetic=args.synthetic,
        seconds=args.seconds,
        size=args.size,
        tone_hz=args.tone_hz,
    )
    return _emit(args, {"path": args.output, "origin": origin}, f"wrote {args.output} ({origin})")
