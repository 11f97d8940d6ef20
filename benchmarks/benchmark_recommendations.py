"""recommendation-service benchmark (JSON): training time, single and batch prediction, exact top-N at 20k
titles, approximate top-N at 1M titles with its recall@10, and HTTP top-N at a fixed request rate from a
separate load process. Targets live in benchmarks/targets.json; this script only measures.

    ./pants run benchmarks:benchmark_recommendations -- [--quick] [--out FILE]
"""

from __future__ import annotations

import harness  # noqa: F401  (first: pins BLAS threads before numpy loads)

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
from netflix_clone.recommendation_service.ann import (
    build_ann_index,
    exact_recall_at_k,
)  # noqa: E402
from netflix_clone.recommendation_service.domain.interactions import (
    build_interactions,
)  # noqa: E402
from netflix_clone.recommendation_service.domain.model import (
    FORMAT_VERSION,
    RecommenderModel,
)  # noqa: E402
from netflix_clone.recommendation_service.engine import Recommender  # noqa: E402
from netflix_clone.recommendation_service.synthetic import synthetic_history  # noqa: E402
from netflix_clone.recommendation_service.training import AlsParams, train_als  # noqa: E402

US = 1e6


def log(message: str) -> None:
    print(f"[benchmark_recommendations] {message}", file=sys.stderr, flush=True)


def clustered_factors(
    n: int, dim: int, rng: np.random.Generator, clusters: int = 256
) -> npt.NDArray[np.float32]:
    """Factor vectors shaped like a trained model's: taste clusters plus noise, varying norms."""
    centers = rng.normal(size=(clusters, dim)).astype(np.float32)
    labels = rng.integers(0, clusters, size=n)
    vectors = centers[labels] + 0.6 * rng.normal(size=(n, dim)).astype(np.float32)
    vectors *= rng.lognormal(0.0, 0.3, size=(n, 1)).astype(np.float32)
    return np.ascontiguousarray(vectors * 0.1, dtype=np.float32)


def synthetic_model(
    users: int, items: int, dim: int, seen_per_user: int, seed: int
) -> RecommenderModel:
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
    interactions = build_interactions(
        history.user_id, history.title_id, history.completion, history.started_at
    )
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
    queue.put(
        {"latencies": latencies.tolist(), "errors": errors[0], "achieved_rps": total / elapsed}
    )


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


def bench_ann(items: int, dim: int, queries: int) -> dict[str, Any]:
    rng = np.random.default_rng(5)
    log(f"building HNSW over {items} items (this is the slow part)")
    model = synthetic_model(users=20_000, items=items, dim=dim, seen_per_user=20, seed=9)
    index, report = build_ann_index(
        model.item_factors, model.user_factors, target_recall=0.95, threads=2
    )
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
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: a smoke run, not the targets"
    )
    parser.add_argument("--out", help="also write the JSON report here")
    parser.add_argument("--ann-items", type=int, default=1_000_000)
    parser.add_argument("--http-rate", type=float, default=500.0)
    parser.add_argument("--http-seconds", type=float, default=10.0)
    parser.add_argument(
        "--only",
        default="training,predictions,exact,approximate,http",
        help="comma-separated sections to run",
    )
    args = parser.parse_args(argv)
    sections = set(args.only.split(","))
    quick = args.quick
    ann_items = 50_000 if quick else args.ann_items
    repeat = 2_000 if quick else 20_000

    metrics: dict[str, Any] = {}
    if "training" in sections:
        log("training")
        metrics["training"] = bench_training(
            users=2_000 if quick else 20_000, items=1_000 if quick else 5_000
        )
    model = synthetic_model(users=50_000, items=20_000, dim=64, seen_per_user=40, seed=4)
    exact = Recommender(model)
    if "predictions" in sections:
        log("predictions")
        metrics["predictions"] = bench_predictions(exact, repeat)
    if "exact" in sections:
        metrics["topn_exact"] = bench_topn(exact, repeat // 4, "exact (20k items)")
    if "approximate" in sections:
        metrics["topn_approximate"] = bench_ann(ann_items, 64, 2_000 if quick else 10_000)
    if "http" in sections:
        log("HTTP")
        metrics["http_topn"] = bench_http(
            model, args.http_rate, 3.0 if quick else args.http_seconds
        )
    env = harness.environment(["numpy", "scipy", "implicit", "hnswlib", "fastapi", "uvicorn"])
    harness.write_report("recommendations", metrics, env, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
