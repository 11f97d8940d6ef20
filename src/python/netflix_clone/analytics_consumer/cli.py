"""analytics-consumer: player events -> sessions, QoE and viewing history.

  run       consume a Redis stream (consumer group) into the sinks, with /healthz /readyz /metrics
  replay    JSON-lines files or stdin -> sessions (SQLite by default), dead letters to a JSON-lines file
  report    QoE by CDN and by device from the SQLite sessions table

Sinks: --sqlite PATH (default var/analytics.sqlite when no other sink is given), --jsonl PATH,
--postgres DSN, --cassandra-hosts H1,H2 (viewing history per user), in any combination.
The player simulator and the crash check are tools, not part of this program: `analytics-tools`
(src/python/netflix_clone/tools/analytics).

Exit codes: 0 done; 1 failed (a backend unreachable or gone: nothing not yet stored was acked);
2 rejected (a bad flag, environment variable or input file). Each flag's environment variable and
default are in its help (NFC_ANALYTICS_*, NFC_REDIS_URL, NFC_POSTGRES_DSN, NFC_CASSANDRA_HOSTS,
NFC_LOG_LEVEL); --json prints one JSON object with `outcome` and `exit_code` on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Callable, Optional

from netflix_clone.analytics_consumer.errors import BackendUnavailable, InputNotFound, InvalidConfig
from netflix_clone.analytics_consumer.settings import AnalyticsSettings
from netflix_clone.platform.cli import ArgumentParser, emit, run
from netflix_clone.platform.redaction import Redactor
from netflix_clone.platform.settings import add_option

__all__ = ["PROG", "build_parser", "main"]

PROG = "analytics-consumer"
DEFAULT_SQLITE = "var/analytics.sqlite"


def non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


@contextlib.contextmanager
def backend_errors(args: argparse.Namespace) -> Iterator[None]:
    """A backend that goes away mid-run ends the command with one line (exit 1), not a traceback.

    Nothing is lost: stream entries are acked only after they are stored, so a restart resumes.
    """
    import psycopg2  # pylint: disable=import-outside-toplevel
    import redis.exceptions  # pylint: disable=import-outside-toplevel

    from netflix_clone.platform.connections import (  # pylint: disable=import-outside-toplevel
        postgres_address,
        redis_address,
    )

    # platform.cli.run prints the outcome on one line (libpq's messages span lines).
    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise BackendUnavailable("Redis", redis_address(getattr(args, "redis_url", "") or ""), 1, exc) from exc
    except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
        raise BackendUnavailable("PostgreSQL", postgres_address(args.postgres or ""), 1, exc) from exc


def _sinks(args: argparse.Namespace) -> list[Any]:
    from netflix_clone.analytics_consumer.adapters.sinks import JsonLinesSink, PostgresSink, SqliteSink

    sinks: list[Any] = []
    try:
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
            sinks.append(SqliteSink(Path(args.sqlite or DEFAULT_SQLITE)))
    except BaseException:
        for sink in sinks:
            sink.close()
        raise
    return sinks


def _rule(args: argparse.Namespace) -> Any:
    from netflix_clone.analytics_consumer.domain.closing import ClosingRule

    try:
        return ClosingRule(
            inactivity_timeout_ms=int(args.inactivity_timeout_s * 1000),
            reorder_window_ms=int(args.reorder_window_s * 1000),
            retention_ms=int(args.retention_s * 1000),
            max_future_skew_ms=int(args.max_future_skew_s * 1000),
        )
    except ValueError as exc:
        raise InvalidConfig(str(exc)) from exc


def _lines(paths: list[str]) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of every non-empty line."""
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


def _ok(args: argparse.Namespace, summary: dict[str, Any], line: str) -> int:
    emit({"outcome": "ok", "exit_code": 0, **summary}, line, as_json=args.json, redactor=args.redactor)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from netflix_clone.analytics_consumer.replay import DeadLetter, replay_lines

    missing = [p for p in args.inputs if p != "-" and not Path(p).is_file()]
    if missing:
        raise InputNotFound(f"no such file: {', '.join(missing)}")
    started = time.perf_counter()
    rule = _rule(args)
    with backend_errors(args):
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
            result, sessionizer = replay_lines(_lines(args.inputs), sinks, rule, on_dead=on_dead, progress=progress)
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
    line = (
        f"{result.events} events -> {result.sessions} sessions, {summary['dead_letters']} dead letters "
        f"({summary['seconds']}s)"
    )
    return _ok(args, summary, line)


def cmd_report(args: argparse.Namespace) -> int:
    from netflix_clone.analytics_consumer.report import format_report, qoe_report

    report = qoe_report(Path(args.sqlite))
    if args.json:
        print(json.dumps({"outcome": "ok", "exit_code": 0, **report}, indent=2))
    else:
        print(format_report(report))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from netflix_clone.analytics_consumer.adapters.redis_streams import RedisStreamSource
    from netflix_clone.analytics_consumer.adapters.session_store import RedisSessionStore
    from netflix_clone.analytics_consumer.consumer import ConsumerMetrics, StreamConsumer
    from netflix_clone.platform.connections import connect_redis
    from netflix_clone.platform.ops_http import HealthChecks, OpsServer

    name = args.consumer or f"{socket.gethostname()}-{os.getpid()}"
    rule = _rule(args)
    with backend_errors(args):
        client = connect_redis(args.redis_url, cluster=args.redis_cluster)
        source = RedisStreamSource(
            client,
            stream=args.stream,
            group=args.group,
            consumer=name,
            dead_letter_stream=args.dead_letter_stream,
            batch=args.batch,
            claim_idle_ms=int(args.claim_idle_s * 1000),
        )
        metrics = ConsumerMetrics()
        store = RedisSessionStore(client, prefix=args.store_prefix, owner=name, rule=rule, shards=args.shards)
        consumer = StreamConsumer(source, store, _sinks(args), metrics=metrics)
        checks = HealthChecks()
        checks.register("redis", lambda: client.ping() and None)

        def _stop(signum: int, _frame: Any) -> None:
            consumer.stop_event.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        try:
            try:
                server = OpsServer(checks, host=args.ops_host, port=args.ops_port, registry=metrics.registry)
            except OSError as exc:
                raise InvalidConfig(
                    f"cannot serve the ops endpoints on {args.ops_host}:{args.ops_port}: {exc}"
                ) from exc
            with server:
                consumer.run(until_idle=args.until_idle)
        finally:
            for sink in consumer.sinks:
                sink.close()
    summary = {
        "stream": args.stream,
        "events": metrics.total(metrics.events),
        "stored": metrics.total(metrics.stored),
        "sessions": metrics.total(metrics.sessions),
        "commits": metrics.total(metrics.commits),
        "reopened": metrics.total(metrics.reopened),
        "dead_letters": metrics.total(metrics.dead),
    }
    line = (
        f"{args.stream}: {summary['events']} events -> {summary['sessions']} sessions, "
        f"{summary['dead_letters']} dead letters"
    )
    return _ok(args, summary, line)


def _sink_flags(p: argparse.ArgumentParser, settings: AnalyticsSettings) -> None:
    add_option(p, "--sqlite", settings, "sqlite", metavar="PATH")
    add_option(p, "--jsonl", settings, "jsonl", metavar="PATH")
    add_option(p, "--postgres", settings, "postgres_dsn", dest="postgres", metavar="DSN")
    add_option(p, "--cassandra-hosts", settings, "cassandra_hosts", metavar="H1,H2")
    add_option(p, "--cassandra-keyspace", settings, "cassandra_keyspace")


def _rule_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--inactivity-timeout-s",
        type=non_negative,
        default=120.0,
        help="a session with no event received for this long closes (default 120)",
    )
    p.add_argument(
        "--reorder-window-s",
        type=non_negative,
        default=5.0,
        help="a session closes this long after its end was received (default 5)",
    )
    p.add_argument(
        "--retention-s",
        type=non_negative,
        default=3600.0,
        help="a committed session's events are kept this long; a late event reopens it (default 3600)",
    )
    p.add_argument(
        "--max-future-skew-s",
        type=non_negative,
        default=300.0,
        help="events stamped further ahead of their receive time are dead-lettered as clock_skew (default 300)",
    )


def build_parser(settings: AnalyticsSettings, redactor: Optional[Redactor] = None) -> argparse.ArgumentParser:
    redactor = redactor or Redactor.from_environment()
    parser = ArgumentParser(prog=PROG, description=__doc__)
    add_option(parser, "--log-level", settings, "log_level", type=str.upper)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, text: str, func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text, formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--json", action="store_true", help="print the outcome as one JSON object on stdout")
        p.set_defaults(func=func, redactor=redactor)
        return p

    p = command("replay", "sessionize JSON-lines event files (or stdin) into the sinks", cmd_replay)
    p.add_argument("inputs", nargs="*", default=["-"], help="JSON-lines files of player events (default: stdin)")
    p.add_argument("--dead-letters", metavar="PATH", help="append rejected lines here, with the reason")
    _sink_flags(p, settings)
    _rule_flags(p)

    p = command("run", "consume a Redis stream (one member of a consumer group) into the sinks", cmd_run)
    add_option(p, "--redis-url", settings, "redis_url")
    add_option(p, "--redis-cluster", settings, "redis_cluster", action="store_true")
    add_option(p, "--stream", settings, "stream")
    add_option(p, "--group", settings, "group")
    add_option(p, "--consumer", settings, "consumer")
    add_option(p, "--dead-letter-stream", settings, "dead_letter_stream")
    add_option(p, "--store-prefix", settings, "store_prefix")
    p.add_argument("--batch", type=positive_int, default=1000, help="stream entries per read (default 1000)")
    p.add_argument(
        "--shards", type=positive_int, default=16, help="session-store shards; fixed for a store (default 16)"
    )
    p.add_argument(
        "--claim-idle-s",
        type=non_negative,
        default=60.0,
        help="take over a dead consumer's entries once pending this long (default 60)",
    )
    add_option(p, "--ops-host", settings, "ops_host")
    add_option(p, "--ops-port", settings, "ops_port", type=int)
    p.add_argument(
        "--until-idle",
        action="store_true",
        help="the stream is a finished batch: when it has nothing more, commit every open session and exit",
    )
    _sink_flags(p, settings)
    _rule_flags(p)

    p = command("report", "QoE by CDN and by device from the SQLite sessions table", cmd_report)
    p.add_argument(
        "--sqlite",
        metavar="PATH",
        default=settings.sqlite or DEFAULT_SQLITE,
        help=f"the SQLite sink's file (env NFC_ANALYTICS_SQLITE, default {DEFAULT_SQLITE})",
    )
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    redactor = Redactor.from_environment()
    return run(PROG, argv, lambda settings: build_parser(settings, redactor), AnalyticsSettings, redactor=redactor)


if __name__ == "__main__":
    sys.exit(main())
