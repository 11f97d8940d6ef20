"""analytics-consumer benchmark (JSON): QoE calculation cost per session; events/s per consumer core from
a Redis stream through the session store and the sinks; event-to-visible latency (stream entry written ->
real-time view updated) at a fixed input rate from a separate producer process.

    ./pants run benchmarks:benchmark_analytics -- [--quick] [--postgres DSN] [--out FILE]

Needs Redis (default redis://127.0.0.1:6379/0); keys live under a unique prefix and are deleted afterwards.
"""

from __future__ import annotations

# isort: off
import harness  # noqa: F401  (first: pins BLAS threads)

# isort: on

import argparse  # noqa: E402
import multiprocessing as mp  # noqa: E402
import secrets  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Optional  # noqa: E402

import numpy as np  # noqa: E402
import redis  # noqa: E402

from netflix_clone.analytics_consumer.adapters.redis_streams import publish_events  # noqa: E402
from netflix_clone.analytics_consumer.adapters.sinks import PostgresSink, SqliteSink  # noqa: E402
from netflix_clone.analytics_consumer.consumer import StreamConsumer, consumer_for_prefix  # noqa: E402
from netflix_clone.analytics_consumer.domain.closing import ClosingRule  # noqa: E402
from netflix_clone.analytics_consumer.domain.session import compute_session  # noqa: E402
from netflix_clone.contracts.player_events import encode_event  # noqa: E402
from netflix_clone.tools.analytics.simulator import simulate_population  # noqa: E402


def log(message: str) -> None:
    print(f"[benchmark_analytics] {message}", file=sys.stderr, flush=True)


def bench_qoe(sessions: int) -> dict[str, Any]:
    events = simulate_population(sessions=sessions, users=100, seed=5, spread_s=60)
    by_sid: dict[str, list[Any]] = {}
    for event in events:
        by_sid.setdefault(event.sid, []).append(event)
    groups = list(by_sid.values())

    def one_pass() -> None:
        for group in groups:
            compute_session(group, "end")

    samples = [harness.time_once(one_pass) / len(groups) for _ in range(5)]
    per_session_us = float(np.median(samples)) * 1e6
    return {
        "per_session_us_median": per_session_us,
        "events_per_session": len(events) / len(groups),
        "per_event_us": per_session_us / (len(events) / len(groups)),
        "runs": [s * 1e6 for s in samples],
    }


def _consumer(client: Any, prefix: str, sinks: list[Any], name: str = "bench") -> StreamConsumer:
    # Everything is published up front: sessions close by their end, or at the drain (as a replay).
    rule = ClosingRule(inactivity_timeout_ms=86_400_000)
    return consumer_for_prefix(client, prefix, name, sinks, batch=2000, block_ms=20, rule=rule)


def _redis_cpu_s(client: Any) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def bench_throughput(client: Any, prefix: str, sessions: int, sinks: list[Any]) -> dict[str, Any]:
    events = simulate_population(sessions=sessions, users=2000, seed=6, spread_s=600)
    publish_events(client, prefix + "events", [encode_event(e) for e in events])
    consumer = _consumer(client, prefix, sinks)
    memory_before = int(client.info("memory")["used_memory"])
    redis_cpu = _redis_cpu_s(client)
    wall, cpu = time.perf_counter(), time.process_time()
    idle = 0
    while idle < 2:
        idle = idle + 1 if consumer.step() == 0 else 0
    stored_cpu = time.process_time()
    # Redis memory the open sessions hold, per event stored (sessions still open: none closed yet
    # but those that ended a reorder window ago).
    open_memory = int(client.info("memory")["used_memory"]) - memory_before
    stored_cpu = time.process_time() - stored_cpu
    consumer.drain()
    harness.plant_cpu(time.process_time() - cpu - stored_cpu)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu - stored_cpu
    redis_cpu = _redis_cpu_s(client) - redis_cpu
    committed = consumer.metrics.total(consumer.metrics.sessions)
    return {
        "events": len(events),
        "sessions": sessions,
        "wall_s": wall,
        "consumer_cpu_s": cpu,
        "events_per_s_wall": len(events) / wall,
        "events_per_consumer_cpu_s": len(events) / cpu,
        "redis_cpu_us_per_event": redis_cpu / len(events) * 1e6,
        "redis_bytes_per_open_event": open_memory / max(1, consumer.metrics.total(consumer.metrics.stored)),
        "sessions_committed": committed,
    }


def _produce(url: str, stream: str, payloads: list[bytes], rate: float) -> None:
    client = redis.Redis.from_url(url)
    per_tick = max(1, int(rate / 100))  # a pipeline every 10 ms
    t0 = time.perf_counter()
    for tick, start in enumerate(range(0, len(payloads), per_tick)):
        due = t0 + tick / 100
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        publish_events(client, stream, payloads[start : start + per_tick])


def bench_latency(url: str, client: Any, prefix: str, rate: float, seconds: float, sinks: list[Any]) -> dict[str, Any]:
    events = simulate_population(sessions=int(rate * seconds / 150) + 10, users=2000, seed=7, spread_s=seconds)
    payloads = [encode_event(e) for e in events][: int(rate * seconds)]
    consumer = _consumer(client, prefix, sinks, name="latency")
    producer = mp.get_context("spawn").Process(target=_produce, args=(url, prefix + "events", payloads, rate))
    latencies: list[float] = []
    producer.start()
    deadline = time.time() + seconds * 3 + 30
    seen = 0
    while seen < len(payloads) and time.time() < deadline:
        entries = consumer.source.read()
        if not entries:
            continue
        consumer.source.ack(consumer.ingest(entries))
        visible_ms = time.time() * 1000
        latencies.extend(visible_ms - int(i.split(b"-")[0]) for i, _ in entries)
        seen += len(entries)
    producer.join(30)
    stats = harness.percentiles(np.asarray(latencies))
    log(f"event -> real-time view at {rate:.0f} events/s: p50 {stats['p50']:.2f} ms p99 {stats['p99']:.2f} ms")
    return {"ms": stats, "rate": rate, "events": seen}


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--postgres", help="also commit sessions to this PostgreSQL database")
    parser.add_argument("--rate", type=float, default=10_000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    client = redis.Redis.from_url(args.redis_url)
    prefix = f"bench-analytics:{secrets.token_hex(4)}:"
    metrics: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            sinks: list[Any] = [SqliteSink(Path(tmp) / "sessions.sqlite")]
            if args.postgres:
                sinks.append(PostgresSink(args.postgres))
            log("QoE calculation")
            metrics["qoe"] = bench_qoe(200 if args.quick else 2000)
            log("end-to-end throughput")
            metrics["throughput"] = bench_throughput(client, prefix + "tp:", 100 if args.quick else 1000, sinks)
            metrics["throughput"]["sinks"] = [type(s).__name__ for s in sinks]
            log(f"{metrics['throughput']['events_per_consumer_cpu_s']:.0f} events per consumer CPU second")
            metrics["latency"] = bench_latency(
                args.redis_url,
                client,
                prefix + "lat:",
                args.rate,
                2.0 if args.quick else args.seconds,
                sinks,
            )
    finally:
        for key in client.scan_iter(match=prefix + "*", count=1000):
            client.delete(key)
    harness.write_report("analytics", metrics, harness.environment(["msgspec", "redis", "hiredis"]), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
