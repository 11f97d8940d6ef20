"""recommendation-service benchmark (JSON): training time, single and batch prediction, exact top-N at 20k
titles, approximate top-N at 1M titles with its recall@10, HTTP top-N at a fixed request rate from a
separate load process, HTTP top-N throughput with 200 keep-alive connections (closed loop, optionally
against a baseline source tree in the same run), /healthz while 50 MB bodies are refused, and offline
quality (tuned vs fixed parameters vs popularity) on a history file. Targets live in
benchmarks/targets.json; this script only measures.

    ./pants run benchmarks:benchmark_recommendations -- [--quick] [--out FILE]
    ... --only http_load --baseline-src /tmp/reco-before/src/python --rounds 3
    ... --only quality --history ml100k.csv
"""

from __future__ import annotations

# isort: off
import harness  # noqa: F401  (first: pins BLAS threads before numpy loads)

# isort: on

import argparse  # noqa: E402
import multiprocessing as mp  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from netflix_clone.recommendation_service.adapters.artifacts import save_model  # noqa: E402
from netflix_clone.recommendation_service.adapters.hnsw_index import build_ann_index, exact_recall_at_k  # noqa: E402
from netflix_clone.recommendation_service.domain.interactions import build_interactions  # noqa: E402
from netflix_clone.recommendation_service.domain.model import FORMAT_VERSION, RecommenderModel  # noqa: E402
from netflix_clone.recommendation_service.serving.recommender import Recommender  # noqa: E402
from netflix_clone.recommendation_service.synthetic import synthetic_history  # noqa: E402
from netflix_clone.recommendation_service.training.als import AlsParams, train_als  # noqa: E402

US = 1e6


def log(message: str) -> None:
    print(f"[benchmark_recommendations] {message}", file=sys.stderr, flush=True)


def clustered_factors(n: int, dim: int, rng: np.random.Generator, clusters: int = 256) -> npt.NDArray[np.float32]:
    """Factor vectors shaped like a trained model's: taste clusters plus noise, varying norms."""
    centers = rng.normal(size=(clusters, dim)).astype(np.float32)
    labels = rng.integers(0, clusters, size=n)
    vectors = centers[labels] + 0.6 * rng.normal(size=(n, dim)).astype(np.float32)
    vectors *= rng.lognormal(0.0, 0.3, size=(n, 1)).astype(np.float32)
    return np.ascontiguousarray(vectors * 0.1, dtype=np.float32)


def synthetic_model(users: int, items: int, dim: int, seen_per_user: int, seed: int) -> RecommenderModel:
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(users), seen_per_user)
    cols = rng.integers(0, items, size=rows.size)
    seen = sp.csr_matrix((np.ones(rows.size, dtype=np.float32), (rows, cols)), shape=(users, items))
    seen.sum_duplicates()
    popularity = np.bincount(cols, minlength=items).astype(np.float32)
    return RecommenderModel(
        version=f"bench-{items}",
        user_ids=np.char.add("u", np.arange(users).astype(str)),
        item_ids=np.char.add("t", np.arange(items).astype(str)),
        user_factors=clustered_factors(users, dim, rng),
        item_factors=clustered_factors(items, dim, rng),
        popularity=popularity,
        trending=popularity.copy(),
        seen=seen,
        metadata={"format_version": FORMAT_VERSION},
    )


def bench_training(users: int, items: int) -> dict[str, Any]:
    history = synthetic_history(users=users, items=items, sessions_per_user=30, seed=3)
    interactions = build_interactions(history.user_id, history.title_id, history.completion, history.started_at)
    params = AlsParams(factors=64, iterations=15, threads=2)
    started = time.perf_counter()
    train_als(interactions, params)
    return {
        "seconds": time.perf_counter() - started,
        "users": users,
        "items": items,
        "interactions": int(interactions.matrix.nnz),
        "factors": params.factors,
        "iterations": params.iterations,
    }


def bench_predictions(rec: Recommender, repeat: int) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    users = rec.model.user_ids[rng.integers(0, rec.model.n_users, size=repeat + 200)].tolist()
    items = rec.model.item_ids[rng.integers(0, rec.model.n_items, size=repeat + 200)].tolist()
    pairs = iter(zip(users, items))
    single = harness.time_calls(lambda: rec.score(*next(pairs)), repeat=repeat, warmup=200)

    n_pairs = 1_000_000
    u_idx = rng.integers(0, rec.model.n_users, size=n_pairs)
    i_idx = rng.integers(0, rec.model.n_items, size=n_pairs)

    def batch_pass() -> None:
        for start in range(0, n_pairs, 100_000):
            rec.score_indices(u_idx[start : start + 100_000], i_idx[start : start + 100_000])

    runs = [n_pairs / harness.time_once(batch_pass) for _ in range(5)]
    return {
        "single_us": harness.percentiles(single * US),
        "batch_predictions_per_s": {"median": float(np.median(runs)), "runs": runs},
    }


def bench_topn(rec: Recommender, repeat: int, label: str) -> dict[str, Any]:
    rng = np.random.default_rng(2)
    users = iter(rec.model.user_ids[rng.integers(0, rec.model.n_users, size=repeat + 100)].tolist())
    samples = harness.time_calls(lambda: rec.recommend(next(users), 10), repeat=repeat, warmup=100)
    stats = harness.percentiles(samples * 1000)
    log(f"{label}: top-10 p50 {stats['p50']:.3f} ms p99 {stats['p99']:.3f} ms")
    return {"ms": stats, "items": rec.model.n_items}


def _serve(model_root: str, port: int) -> None:
    from netflix_clone.recommendation_service.cli import main

    main(["serve", "--model-dir", model_root, "--port", str(port), "--host", "127.0.0.1"])


def _load(port: int, users: list[str], rate: float, seconds: float, queue: Any) -> None:
    """Open-loop load: request i is due at t0 + i/rate; latency counts from the due time, so a stalled
    server cannot hide its queueing (no coordinated omission)."""
    import http.client
    import threading

    total = int(rate * seconds)
    latencies = np.full(total, np.nan)
    errors = [0]
    t0 = time.perf_counter() + 0.2
    workers = 8

    def worker(offset: int) -> None:
        # http.client over one keep-alive connection: a few µs of client CPU per request, so the load
        # process does not compete with the server for the machine's two cores.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        for i in range(offset, total, workers):
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            conn.request("GET", f"/v1/users/{users[i % len(users)]}/recommendations?n=10")
            response = conn.getresponse()
            response.read()
            latencies[i] = time.perf_counter() - due
            if response.status != 200:
                errors[0] += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    queue.put({"latencies": latencies.tolist(), "errors": errors[0], "achieved_rps": total / elapsed})


def bench_http(model: RecommenderModel, rate: float, seconds: float) -> dict[str, Any]:
    import socket

    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        save_model(Path(tmp), model)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        ctx = mp.get_context("spawn")
        server = ctx.Process(target=_serve, args=(tmp, port), daemon=True)
        server.start()
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("recommendation server did not become ready")
                time.sleep(0.2)
            queue = ctx.Queue()
            users = model.user_ids[:5000].tolist()
            loader = ctx.Process(target=_load, args=(port, users, rate, 2.0, queue))  # warm-up
            loader.start()
            queue.get()
            loader.join()
            loader = ctx.Process(target=_load, args=(port, users, rate, seconds, queue))
            loader.start()
            result = queue.get()
            loader.join()
        finally:
            server.terminate()
            server.join(10)
    latencies = np.asarray(result["latencies"], dtype=np.float64)
    stats = harness.percentiles(latencies[~np.isnan(latencies)] * 1000)
    log(f"HTTP top-10 at {rate:.0f} req/s: p50 {stats['p50']:.2f} ms p99 {stats['p99']:.2f} ms")
    return {
        "ms": stats,
        "target_rps": rate,
        "achieved_rps": result["achieved_rps"],
        "errors": result["errors"],
    }


def _start_server(model_root: str, port: int, *, src: str | None = None, extra: tuple[str, ...] = ()) -> Any:
    """The service as its own process; `src` puts another source tree (the baseline) first."""
    import os
    import subprocess  # nosec B404 - the server under test

    env = dict(os.environ, NFC_LOG_LEVEL="ERROR")
    if src:
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    command = [sys.executable, "-m", "netflix_clone.recommendation_service.cli", "serve"]
    return subprocess.Popen(  # nosec B603 - fixed argv
        [*command, "--model-dir", model_root, "--port", str(port), "--host", "127.0.0.1", *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_ready(port: int, process: Any, timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited before it was ready")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("recommendation server did not become ready")


def _closed_loop(port: int, paths: list[str], connections: int, seconds: float, warmup: float, queue: Any) -> None:
    """Closed-loop load: `connections` keep-alive connections, each sending its next request as soon
    as the previous answer is in. Raw asyncio protocols (uvloop when present) keep the client's CPU per
    request small, so it takes little from the server on a 2-core machine. Latency is send -> last byte;
    requests started during the warm-up are not counted."""
    import asyncio
    import functools

    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass

    latencies: list[float] = []
    errors = [0]
    status_errors = [0]

    class Client(asyncio.Protocol):
        def __init__(self, offset: int, done: asyncio.Future[None], t_end: float) -> None:
            self.i = offset
            self.done = done
            self.t_end = t_end
            self.buffer = b""
            self.sent = 0.0
            self.transport: Any = None

        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            self.send()

        def send(self) -> None:
            path = paths[self.i % len(paths)]
            self.i += connections
            self.sent = time.perf_counter()
            self.transport.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            head, sep, body = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if len(body) < length:
                return
            now = time.perf_counter()
            if not head.startswith(b"HTTP/1.1 200"):
                status_errors[0] += 1
            if self.sent >= t_count:
                latencies.append(now - self.sent)
            self.buffer = body[length:]
            if now < self.t_end:
                self.send()
            else:
                self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            if exc is not None:
                errors[0] += 1
            if not self.done.done():
                self.done.set_result(None)

    async def run() -> float:
        loop = asyncio.get_running_loop()
        t_end = time.perf_counter() + warmup + seconds
        futures = []
        for c in range(connections):
            done: asyncio.Future[None] = loop.create_future()
            await loop.create_connection(functools.partial(Client, c, done, t_end), "127.0.0.1", port)
            futures.append(done)
        await asyncio.gather(*futures)
        return time.perf_counter()

    t_count = time.perf_counter() + warmup
    finished = asyncio.run(run())
    counted = len(latencies)
    queue.put(
        {
            "latencies": latencies,
            "requests": counted,
            "rps": counted / max(1e-9, finished - t_count),
            "connection_errors": errors[0],
            "non_200": status_errors[0],
        }
    )


def bench_http_load(
    model: RecommenderModel,
    *,
    connections: int,
    seconds: float,
    rounds: int,
    baseline_src: str | None,
    workers: int,
) -> dict[str, Any]:
    """Top-10 throughput and latency at `connections` keep-alive connections, the current code (with
    --workers) and, when given, a baseline source tree, alternating rounds in one run."""
    import socket

    variants: dict[str, dict[str, Any]] = {"after": {"src": None, "extra": ("--workers", str(workers))}}
    if baseline_src:
        variants["before"] = {"src": baseline_src, "extra": ()}
    users = model.user_ids.tolist()
    rng = np.random.default_rng(11)
    paths = [f"/v1/users/{users[i]}/recommendations?n=10" for i in rng.integers(0, len(users), 20_000)]
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        save_model(Path(tmp), model)
        for round_no in range(rounds):
            order = list(variants) if round_no % 2 == 0 else list(reversed(variants))
            for name in order:
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", 0))
                    port = sock.getsockname()[1]
                server = _start_server(tmp, port, src=variants[name]["src"], extra=variants[name]["extra"])
                try:
                    _wait_ready(port, server)
                    queue = ctx.Queue()
                    loader = ctx.Process(target=_closed_loop, args=(port, paths, connections, seconds, 2.0, queue))
                    loader.start()
                    result = queue.get()
                    loader.join()
                finally:
                    server.terminate()
                    server.wait(20)
                lat = np.asarray(result.pop("latencies"), dtype=np.float64) * 1000
                stats = harness.percentiles(lat) if lat.size else {}
                results[name].append({**result, "ms": stats})
                log(
                    f"HTTP load {name} round {round_no + 1}: {result['rps']:.0f} req/s, "
                    f"p50 {stats.get('p50', float('nan')):.1f} ms p99 {stats.get('p99', float('nan')):.1f} ms"
                )
    summary: dict[str, Any] = {"connections": connections, "seconds": seconds, "rounds": rounds}
    for name, runs in results.items():
        summary[name] = {
            "rps_median": float(np.median([r["rps"] for r in runs])),
            "p50_ms_median": float(np.median([r["ms"]["p50"] for r in runs])),
            "p99_ms_median": float(np.median([r["ms"]["p99"] for r in runs])),
            "runs": runs,
        }
    return summary


def bench_healthz_under_upload(model: RecommenderModel, probes: int = 400) -> dict[str, Any]:
    """/healthz latency while clients keep sending 50 MB bodies that the server refuses."""
    import http.client
    import socket
    import threading

    with tempfile.TemporaryDirectory() as tmp:
        save_model(Path(tmp), model)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = _start_server(tmp, port)
        stop = threading.Event()
        refused = [0]

        def upload() -> None:
            chunk = b"x" * 65536
            while not stop.is_set():
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                        s.sendall(b"POST /v1/scores HTTP/1.1\r\nHost: b\r\nContent-Length: 52428800\r\n\r\n")
                        for _ in range(800):
                            s.sendall(chunk)
                except OSError:
                    refused[0] += 1

        try:
            _wait_ready(port, server)
            uploaders = [threading.Thread(target=upload, daemon=True) for _ in range(2)]
            for t in uploaders:
                t.start()
            time.sleep(0.5)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            samples = []
            for _ in range(probes):
                t0 = time.perf_counter()
                conn.request("GET", "/healthz")
                response = conn.getresponse()
                response.read()
                samples.append(time.perf_counter() - t0)
                time.sleep(0.005)
            conn.close()
            stop.set()
            for t in uploaders:
                t.join(30)
        finally:
            server.terminate()
            server.wait(20)
    stats = harness.percentiles(np.asarray(samples) * 1000)
    log(f"/healthz under 50 MB uploads: p50 {stats['p50']:.2f} ms p99 {stats['p99']:.2f} ms")
    return {"ms": stats, "uploads_cut_off": refused[0]}


def bench_quality(history_path: str, budget: float) -> dict[str, Any]:
    """Tuned vs fixed-default ALS vs popularity on a history file (random and temporal splits)."""
    from netflix_clone.recommendation_service.adapters.history_sources import read_history
    from netflix_clone.recommendation_service.training.evaluation import evaluate
    from netflix_clone.recommendation_service.training.tuning import TuningOptions

    history = read_history(history_path)
    out: dict[str, Any] = {"history": Path(history_path).name, "rows": len(history)}
    for split in ("random", "temporal"):
        report = evaluate(
            history,
            AlsParams(factors=64, regularization=0.05, alpha=20.0, threads=2),
            split=split,
            tuning=TuningOptions(budget_s=budget),
        ).as_dict()
        out[split] = {
            name: {k: v for k, v in report[name].items() if k != "params"}
            for name in ("als", "als_fixed", "popularity")
        }
        out[split]["chosen"] = report["tuning"]["chosen"]
        out[split]["search_seconds"] = report["tuning"]["seconds"]
        out[split]["trials"] = len(report["tuning"]["trials"])
        log(
            f"quality {split}: NDCG@10 tuned {out[split]['als']['ndcg@10']:.4f}, fixed "
            f"{out[split]['als_fixed']['ndcg@10']:.4f}, popularity {out[split]['popularity']['ndcg@10']:.4f}"
        )
    return out


def bench_ann(items: int, dim: int, queries: int) -> dict[str, Any]:
    rng = np.random.default_rng(5)
    log(f"building HNSW over {items} items (this is the slow part)")
    model = synthetic_model(users=20_000, items=items, dim=dim, seen_per_user=20, seed=9)
    index, report = build_ann_index(model.item_factors, model.user_factors, target_recall=0.95, threads=2)
    held_out = clustered_factors(queries, dim, rng)
    recall = exact_recall_at_k(index, model.item_factors, held_out[: min(200, queries)])
    rec = Recommender(model, ann=index)
    stats = bench_topn(rec, queries, f"approximate ({items} items)")
    return {
        **stats,
        "recall_at_10_tuning": report.recall_at_10,
        "recall_at_10_held_out": recall,
        "ef": report.ef,
        "build_seconds": report.build_seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not the targets")
    parser.add_argument("--out", help="also write the JSON report here")
    parser.add_argument("--ann-items", type=int, default=1_000_000)
    parser.add_argument("--http-rate", type=float, default=500.0)
    parser.add_argument("--http-seconds", type=float, default=10.0)
    parser.add_argument(
        "--only",
        default="training,predictions,exact,approximate,http,http_load,healthz_under_upload",
        help="comma-separated sections (also: quality, with --history)",
    )
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--load-seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--baseline-src",
        help="a source tree (src/python) of the code to compare with, in the same run",
    )
    parser.add_argument("--history", help="history file for the quality section")
    parser.add_argument("--tune-budget", type=float, default=120.0)
    args = parser.parse_args(argv)
    sections = set(args.only.split(","))
    quick = args.quick
    ann_items = 50_000 if quick else args.ann_items
    repeat = 2_000 if quick else 20_000

    metrics: dict[str, Any] = {}
    if "training" in sections:
        log("training")
        metrics["training"] = bench_training(users=2_000 if quick else 20_000, items=1_000 if quick else 5_000)
    model = synthetic_model(users=50_000, items=20_000, dim=64, seen_per_user=40, seed=4)
    exact = Recommender(model)
    if "predictions" in sections:
        log("predictions")
        metrics["predictions"] = bench_predictions(exact, repeat)
    if "exact" in sections:
        metrics["topn_exact"] = bench_topn(exact, repeat // 4, "exact (20k items)")
    if "approximate" in sections:
        metrics["topn_approximate"] = bench_ann(ann_items, 64, 2_000 if quick else 10_000)
    if "http_load" in sections:
        log("HTTP load")
        metrics["http_load"] = bench_http_load(
            model,
            connections=args.connections,
            seconds=3.0 if quick else args.load_seconds,
            rounds=args.rounds,
            baseline_src=args.baseline_src,
            workers=args.workers,
        )
    if "healthz_under_upload" in sections:
        metrics["healthz_under_upload"] = bench_healthz_under_upload(model, 100 if quick else 400)
    if "quality" in sections:
        if not args.history:
            parser.error("the quality section needs --history")
        metrics["quality"] = bench_quality(args.history, args.tune_budget)
    if "http" in sections:
        log("HTTP")
        metrics["http_topn"] = bench_http(model, args.http_rate, 3.0 if quick else args.http_seconds)
    env = harness.environment(["numpy", "scipy", "implicit", "hnswlib", "fastapi", "uvicorn"])
    harness.write_report("recommendations", metrics, env, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
