"""analytics-consumer command line.

  run       consume a Redis stream (consumer group) into the sinks, with /healthz /readyz /metrics
  replay    JSON-lines files or stdin -> sessions (SQLite by default), dead letters to a JSON-lines file
  simulate  the player simulator -> a JSON-lines file or a Redis stream
  crash-check  SIGKILL the consumer repeatedly while events flow, then compare with a clean replay

Sinks: --sqlite PATH (default var/analytics.sqlite), --jsonl PATH, --postgres DSN, --cassandra-hosts H1,H2
(viewing history per user), in any combination.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Optional

from netflix_clone.platform.logging import configure_logging

__all__ = ["main"]


def _sinks(args: argparse.Namespace) -> list[Any]:
    from netflix_clone.analytics_consumer.adapters.sinks import JsonLinesSink, PostgresSink, SqliteSink

    sinks: list[Any] = []
    if args.postgres:
        sinks.append(PostgresSink(args.postgres))
    if args.cassandra_hosts:
        from netflix_clone.analytics_consumer.adapters.cassandra_history import CassandraHistorySink
        from netflix_clone.platform.connections import connect_cassandra

        hosts = [h.strip() for h in args.cassandra_hosts.split(",") if h.strip()]
        sinks.append(CassandraHistorySink(connect_cassandra(hosts), args.cassandra_keyspace))
    if args.jsonl:
        sinks.append(JsonLinesSink(Path(args.jsonl)))
    if args.sqlite or not sinks:
        sinks.append(SqliteSink(Path(args.sqlite or "var/analytics.sqlite")))
    return sinks


def _rule(args: argparse.Namespace) -> Any:
    from netflix_clone.analytics_consumer.domain.closing import ClosingRule

    return ClosingRule(
        inactivity_timeout_ms=int(args.inactivity_timeout_s * 1000),
        reorder_window_ms=int(args.reorder_window_s * 1000),
        retention_ms=int(args.retention_s * 1000),
        max_future_skew_ms=int(args.max_future_skew_s * 1000),
    )


def _lines(paths: list[str]) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of every non-empty line; a missing file is a usage error."""
    number = 0
    if not paths or paths == ["-"]:
        for line in sys.stdin.buffer:
            number += 1
            if line.strip():
                yield number, line.rstrip(b"\r\n")
        return
    for path in paths:
        with open(path, "rb") as handle:
            for line in handle:
                number += 1
                if line.strip():
                    yield number, line.rstrip(b"\r\n")


def cmd_replay(args: argparse.Namespace) -> int:
    from netflix_clone.analytics_consumer.consumer import DeadLetter, replay_lines

    missing = [p for p in args.inputs if p != "-" and not Path(p).is_file()]
    if missing:
        print(f"analytics-consumer replay: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    sinks = _sinks(args)
    dead: Optional[IO[str]] = open(args.dead_letters, "a", encoding="utf-8") if args.dead_letters else None

    def on_dead(letter: DeadLetter) -> None:
        if dead is not None:
            dead.write(
                json.dumps(
                    {
                        "line": letter.token,
                        "reason": letter.reason,
                        "detail": letter.detail,
                        "payload": letter.payload[:65536].decode("utf-8", "replace"),
                    }
                )
                + "\n"
            )

    def progress(result: Any) -> None:
        if result.events % 100_000 < 5000:
            print(f"replay: {result.events} events, {result.sessions} sessions", file=sys.stderr)

    try:
        result, sessionizer = replay_lines(_lines(args.inputs), sinks, _rule(args), on_dead=on_dead, progress=progress)
    finally:
        for sink in sinks:
            sink.close()
        if dead is not None:
            dead.close()
    summary = {
        "events": result.events,
        "stored": result.stored,
        "sessions": result.sessions,
        "commits": result.commits,
        "dead_letters": sum(result.reasons.values()),
        "dead_letter_reasons": result.reasons,
        "duplicates": sessionizer.duplicates,
        "late": sessionizer.late,
        "reopened": sessionizer.reopened,
        "seconds": round(time.perf_counter() - started, 3),
    }
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        print(
            f"{result.events} events -> {result.sessions} sessions, {summary['dead_letters']} dead letters "
            f"({summary['seconds']}s)"
        )
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from netflix_clone.analytics_consumer.domain.simulator import simulate_population
    from netflix_clone.contracts.player_events import encode_event

    titles: Optional[list[str]] = None
    if args.titles:
        spec = args.titles
        raw = Path(spec[1:]).read_text(encoding="utf-8") if spec.startswith("@") else spec
        titles = [t.strip() for t in raw.replace("\n", ",").split(",") if t.strip()]
    durations_s = tuple(float(d) * 60 for d in args.durations_min.split(","))
    # By default every simulated event lies in the past (sessions start within the spread and play
    # out before now): events stamped in the future would be dead-lettered as clock skew.
    default_start = int(time.time() * 1000) - int((args.spread_s + max(durations_s) * 1.5) * 1000)
    events = simulate_population(
        sessions=args.sessions,
        users=args.users,
        titles=titles,
        seed=args.seed,
        start_ms=args.start_ms or default_start,
        spread_s=args.spread_s,
        taste_clusters=args.taste_clusters,
        durations_s=durations_s,
    )
    payloads = [encode_event(e) for e in events]
    if args.redis_url:
        from netflix_clone.analytics_consumer.adapters.redis_streams import publish_events
        from netflix_clone.platform.connections import connect_redis

        sent = publish_events(connect_redis(args.redis_url), args.stream, payloads)
        target = f"redis stream {args.stream}"
    else:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(b"\n".join(payloads) + b"\n")
        sent, target = len(payloads), str(out)
    summary = {"sessions": args.sessions, "events": sent, "target": target}
    print(json.dumps(summary) if args.json else f"simulated {args.sessions} sessions: {sent} events -> {target}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    import sqlite3

    if not Path(args.sqlite).exists():
        print(f"no sessions database at {args.sqlite}", file=sys.stderr)
        return 2
    db = sqlite3.connect(args.sqlite)
    report: dict[str, Any] = {}
    try:
        for dimension in ("cdn", "device"):
            rows = db.execute(
                f"SELECT {dimension}, COUNT(*), AVG(qoe_score), AVG(startup_ms), "  # nosec B608 - fixed names
                "AVG(rebuffering_ratio), AVG(avg_bitrate_kbps), "
                "AVG(CASE WHEN start_failure OR playback_failure THEN 1.0 ELSE 0.0 END) "
                f"FROM sessions GROUP BY {dimension} ORDER BY {dimension}"
            ).fetchall()
            report[f"by_{dimension}"] = [
                {
                    dimension: r[0],
                    "sessions": r[1],
                    "qoe_score": round(r[2], 1) if r[2] is not None else None,
                    "startup_ms": round(r[3]) if r[3] is not None else None,
                    "rebuffering_ratio": round(r[4], 4) if r[4] is not None else None,
                    "avg_bitrate_kbps": round(r[5]) if r[5] is not None else None,
                    "failure_rate": round(r[6], 4),
                }
                for r in rows
            ]
        report["sessions"] = db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
    finally:
        db.close()
    lines = []
    for dimension in ("cdn", "device"):
        lines.append(f"QoE by {dimension}:")
        for r in report[f"by_{dimension}"]:
            lines.append(
                f"  {str(r[dimension]):<10} {r['sessions']:>6} sessions  score {r['qoe_score']}  "
                f"startup {r['startup_ms']} ms  rebuffering {r['rebuffering_ratio']:.2%}  "
                f"bitrate {r['avg_bitrate_kbps']} kbps  failures {r['failure_rate']:.1%}"
            )
    print(json.dumps(report, indent=2) if args.json else "\n".join(lines))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from netflix_clone.analytics_consumer.adapters.redis_streams import RedisStreamSource
    from netflix_clone.analytics_consumer.adapters.session_store import RedisSessionStore
    from netflix_clone.analytics_consumer.consumer import ConsumerMetrics, StreamConsumer
    from netflix_clone.platform.connections import connect_redis
    from netflix_clone.platform.ops_http import HealthChecks, OpsServer

    client = connect_redis(args.redis_url, cluster=args.redis_cluster)
    source = RedisStreamSource(
        client,
        stream=args.stream,
        group=args.group,
        consumer=args.consumer,
        dead_letter_stream=args.dead_letter_stream,
        batch=args.batch,
        claim_idle_ms=int(args.claim_idle_s * 1000),
    )
    metrics = ConsumerMetrics()
    store = RedisSessionStore(
        client, prefix=args.store_prefix, owner=args.consumer, rule=_rule(args), shards=args.shards
    )
    consumer = StreamConsumer(source, store, _sinks(args), metrics=metrics)
    checks = HealthChecks()
    checks.register("redis", lambda: client.ping() and None)

    def _stop(signum: int, _frame: Any) -> None:
        consumer.stop_event.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with OpsServer(checks, host=args.ops_host, port=args.ops_port, registry=metrics.registry):
        consumer.run(until_idle=args.until_idle)
    for sink in consumer.sinks:
        sink.close()
    if args.json:
        print(
            json.dumps(
                {
                    "stream": args.stream,
                    "events": metrics.total(metrics.events),
                    "stored": metrics.total(metrics.stored),
                    "sessions": metrics.total(metrics.sessions),
                    "commits": metrics.total(metrics.commits),
                    "reopened": metrics.total(metrics.reopened),
                    "dead_letters": metrics.total(metrics.dead),
                }
            )
        )
    return 0


def cmd_crash_check(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from netflix_clone.analytics_consumer.crash_check import run_crash_test

    report = run_crash_test(args.redis_url, sessions=args.sessions, progress=True, cluster=args.redis_cluster)
    payload = {**asdict(report), "ok": report.ok}
    print(
        json.dumps(payload, indent=2)
        if args.json
        else f"{report.events_in} events, {report.kills} kills ({report.kills_mid_stream} mid-stream): "
        f"{report.sessions_out}/{report.sessions_expected} sessions, missing {report.missing}, "
        f"unexpected {report.unexpected}, mismatched {report.mismatched} -> {'OK' if report.ok else 'FAILED'}"
    )
    return 0 if report.ok else 1


def build_parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="analytics-consumer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--log-level", default=env("ANALYTICS_LOG_LEVEL", "WARNING"))
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str, sinks: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--json", action="store_true")
        if sinks:
            p.add_argument("--sqlite", default=env("ANALYTICS_SQLITE"))
            p.add_argument("--jsonl", default=env("ANALYTICS_JSONL"))
            p.add_argument("--postgres", default=env("ANALYTICS_POSTGRES_DSN"))
            p.add_argument("--cassandra-hosts", default=env("CASSANDRA_HOSTS"), help="viewing history per user")
            p.add_argument("--cassandra-keyspace", default=env("ANALYTICS_CASSANDRA_KEYSPACE", "netflix_clone"))
            p.add_argument(
                "--inactivity-timeout-s",
                type=float,
                default=120.0,
                help="a session with no event received for this long closes",
            )
            p.add_argument(
                "--reorder-window-s",
                type=float,
                default=5.0,
                help="a session closes this long after its end was received",
            )
            p.add_argument(
                "--retention-s",
                type=float,
                default=3600.0,
                help="a committed session's events are kept this long; a late event reopens it",
            )
            p.add_argument("--max-future-skew-s", type=float, default=300.0,
                           help="events stamped further ahead of their receive time are dead-lettered")  # fmt: skip
        return p

    p = add("replay", "sessionize JSON-lines event files (or stdin)")
    p.add_argument("inputs", nargs="*", default=["-"])
    p.add_argument("--dead-letters", help="append rejected lines here, with the reason")
    p.set_defaults(fn=cmd_replay)

    p = add("run", "consume a Redis stream")
    p.add_argument("--redis-url", default=env("ANALYTICS_REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument("--stream", default=env("ANALYTICS_STREAM", "player-events"))
    p.add_argument("--group", default=env("ANALYTICS_GROUP", "analytics"))
    p.add_argument("--consumer", default=env("ANALYTICS_CONSUMER", f"{socket.gethostname()}-{os.getpid()}"))
    p.add_argument("--dead-letter-stream", default=env("ANALYTICS_DLQ", "player-events-dead"))
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument(
        "--redis-cluster",
        action="store_true",
        default=env("ANALYTICS_REDIS_CLUSTER", "") in ("1", "true", "yes"),
        help="the URL is a Redis Cluster node (the session store is sharded by hash tag)",
    )
    p.add_argument("--shards", type=int, default=16, help="session-store shards (fixed for a store)")
    p.add_argument("--store-prefix", default=env("ANALYTICS_STORE_PREFIX", "analytics:"))
    p.add_argument("--claim-idle-s", type=float, default=60.0)
    p.add_argument("--ops-host", default="127.0.0.1")
    p.add_argument("--ops-port", type=int, default=int(env("ANALYTICS_OPS_PORT", "9100")))
    p.add_argument(
        "--until-idle",
        action="store_true",
        help="the stream is a finished batch: when it has nothing more, commit every open session and exit",
    )
    p.set_defaults(fn=cmd_run)

    p = add("simulate", "simulate viewers and write their events", sinks=False)
    p.add_argument("--sessions", type=int, default=1000)
    p.add_argument("--users", type=int, default=300)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--spread-s", type=float, default=3600.0)
    p.add_argument("--start-ms", type=int, default=0, help="default: early enough that every event is past")
    p.add_argument("--out", default="var/events.jsonl")
    p.add_argument("--redis-url", help="publish to this Redis stream instead of a file")
    p.add_argument("--stream", default="player-events")
    p.add_argument(
        "--titles",
        help="comma-separated title ids, or @FILE with one per line (default t0000..t0099)",
    )
    p.add_argument("--taste-clusters", type=int, default=0, help="users prefer one of N title groups")
    p.add_argument("--durations-min", default="22,45,90", help="title lengths to draw from, minutes")
    p.set_defaults(fn=cmd_simulate)

    p = add("report", "QoE by CDN and by device from the SQLite sessions table", sinks=False)
    p.add_argument("--sqlite", default="var/analytics.sqlite")
    p.set_defaults(fn=cmd_report)

    p = add(
        "crash-check",
        "SIGKILL the consumer repeatedly while events flow; compare with a clean replay",
        sinks=False,
    )
    p.add_argument("--redis-url", default=env("ANALYTICS_REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument("--sessions", type=int, default=3000, help="~210 events each (4800 ~ 1M events)")
    p.add_argument("--redis-cluster", action="store_true", help="the URL is a Redis Cluster node")
    p.set_defaults(fn=cmd_crash_check)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging("analytics-consumer", level=args.log_level)
    return int(args.fn(args))


if __name__ == "__main__":
    sys.exit(main())
