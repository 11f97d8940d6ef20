"""analytics-tools: test and load tools for analytics-consumer (not part of its image).

  simulate     the player simulator -> a JSON-lines file or a Redis stream
  crash-check  SIGKILL the consumer repeatedly while events flow, then compare with a clean replay

Exit codes as analytics-consumer's: 0 done (crash-check: every session matched); 1 failed (a backend
unreachable, or crash-check found a difference); 2 rejected (a bad flag or variable). --json prints one
JSON object with `outcome` and `exit_code` on stdout.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

from netflix_clone.analytics_consumer.errors import InputNotFound
from netflix_clone.analytics_consumer.settings import AnalyticsSettings
from netflix_clone.platform.cli import ArgumentParser, emit, run
from netflix_clone.platform.redaction import Redactor
from netflix_clone.platform.settings import add_option

__all__ = ["PROG", "build_parser", "main"]

PROG = "analytics-tools"


def cmd_simulate(args: argparse.Namespace) -> int:
    from netflix_clone.contracts.player_events import encode_event
    from netflix_clone.tools.analytics.simulator import simulate_population

    titles: Optional[list[str]] = None
    if args.titles:
        spec = args.titles
        if spec.startswith("@") and not Path(spec[1:]).is_file():
            raise InputNotFound(f"no such titles file: {spec[1:]}")
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
    summary = {"outcome": "ok", "exit_code": 0, "sessions": args.sessions, "events": sent, "target": target}
    emit(
        summary,
        f"simulated {args.sessions} sessions: {sent} events -> {target}",
        as_json=args.json,
        redactor=args.redactor,
    )
    return 0


def cmd_crash_check(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from netflix_clone.tools.analytics.crash_check import run_crash_test

    report = run_crash_test(args.redis_url, sessions=args.sessions, progress=True, cluster=args.redis_cluster)
    code = 0 if report.ok else 1
    payload = {"outcome": "ok" if report.ok else "failed", "exit_code": code, **asdict(report), "ok": report.ok}
    line = (
        f"{report.events_in} events, {report.kills} kills ({report.kills_mid_stream} mid-stream): "
        f"{report.sessions_out}/{report.sessions_expected} sessions, missing {report.missing}, "
        f"unexpected {report.unexpected}, mismatched {report.mismatched} -> {'OK' if report.ok else 'FAILED'}"
    )
    emit(payload, line, as_json=args.json, redactor=args.redactor)
    return code


def build_parser(settings: AnalyticsSettings, redactor: Optional[Redactor] = None) -> argparse.ArgumentParser:
    redactor = redactor or Redactor.from_environment()
    parser = ArgumentParser(prog=PROG, description=__doc__)
    add_option(parser, "--log-level", settings, "log_level", type=str.upper)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, text: str, func: Callable[[argparse.Namespace], int]) -> Any:
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("--json", action="store_true", help="print the outcome as one JSON object on stdout")
        p.set_defaults(func=func, redactor=redactor)
        return p

    p = command("simulate", "simulate viewers and write their events", cmd_simulate)
    p.add_argument("--sessions", type=int, default=1000, help="(default 1000)")
    p.add_argument("--users", type=int, default=300, help="(default 300)")
    p.add_argument("--seed", type=int, default=1, help="(default 1)")
    p.add_argument("--spread-s", type=float, default=3600.0, help="sessions start within this span (default 3600)")
    p.add_argument("--start-ms", type=int, default=0, help="default: early enough that every event is past")
    p.add_argument("--out", default="var/events.jsonl", help="JSON-lines output (default var/events.jsonl)")
    p.add_argument("--redis-url", help="publish to this Redis stream instead of a file")
    p.add_argument("--stream", default="player-events", help="(default player-events)")
    p.add_argument("--titles", help="comma-separated title ids, or @FILE with one per line (default t0000..t0099)")
    p.add_argument("--taste-clusters", type=int, default=0, help="users prefer one of N title groups (default 0)")
    p.add_argument("--durations-min", default="22,45,90", help="title lengths to draw from, minutes (default 22,45,90)")

    p = command(
        "crash-check", "SIGKILL the consumer repeatedly while events flow; compare with a clean replay", cmd_crash_check
    )
    add_option(p, "--redis-url", settings, "redis_url")
    p.add_argument("--sessions", type=int, default=3000, help="~210 events each; 4800 ~ 1M events (default 3000)")
    add_option(p, "--redis-cluster", settings, "redis_cluster", action="store_true")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    redactor = Redactor.from_environment()
    return run(PROG, argv, lambda settings: build_parser(settings, redactor), AnalyticsSettings, redactor=redactor)


if __name__ == "__main__":
    sys.exit(main())
