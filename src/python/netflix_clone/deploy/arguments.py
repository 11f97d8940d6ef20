"""Argument types and the checks made before anything touches AWS.

Bad values are usage errors (exit 2, one line), found before anything runs: a deploy must not stop with
a bad flag after green was deployed.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from pathlib import Path
from typing import Any

from netflix_clone.deploy.errors import Rejected, StrategyError

__all__ = ["call_budget_s", "fraction", "non_negative", "percent", "plan_steps_of", "positive", "steps_arg", "validate"]


def steps_arg(text: str) -> list[int]:
    from netflix_clone.deploy.domain.strategies import parse_steps

    try:
        return parse_steps(text)
    except StrategyError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def number(kind: type, text: str) -> Any:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text[:40]!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text[:40]!r}")
    return value


def positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        value = number(kind, text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
        return value

    return parse


def non_negative(text: str) -> float:
    value = float(number(float, text))
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text!r}")
    return value


def percent(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole percentage: {text!r}") from None
    if not 0 < value <= 100:
        raise argparse.ArgumentTypeError(f"must be within 1..100, got {value}")
    return value


def fraction(text: str) -> float:
    value = non_negative(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be a fraction within 0..1, got {text!r}")
    return value


def plan_steps_of(args: argparse.Namespace) -> Any:
    from netflix_clone.deploy.domain.strategies import plan_steps

    try:
        return tuple(
            plan_steps(
                args.strategy,
                step_s=args.step_minutes * 60,
                canary_percent=args.canary_percent,
                canary_hold_s=args.canary_minutes * 60,
                linear_percent=args.linear_percent,
                custom=args.steps,
            )
        )
    except StrategyError as exc:
        raise Rejected(str(exc)) from None


def call_budget_s(args: argparse.Namespace) -> float:
    """The longest one AWS call can take: every attempt's connect and read timeouts plus botocore's
    standard-mode backoff between them (doubling, at most 20 s each)."""
    attempts = int(args.aws_max_attempts)
    timeout = float(args.aws_timeout_s)
    backoff = sum(min(20.0, 2.0**i) for i in range(1, attempts))
    return attempts * (min(5.0, timeout) + timeout) + backoff


_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")


def validate(args: argparse.Namespace) -> None:
    """Everything that can be checked before touching AWS, so bad input exits 2 having changed
    nothing (not after green was deployed)."""
    from netflix_clone.deploy.adapters.http_checks import parse_check
    from netflix_clone.deploy.adapters.notify import check_url

    if hasattr(args, "lock_table") and not _NAME.match(args.lock_table or ""):
        raise Rejected("--lock-table must be 3-255 characters of A-Z a-z 0-9 _ . -")
    if getattr(args, "region", None) and not _REGION.match(args.region):
        raise Rejected(f"--region {args.region[:40]!r} is not an AWS region name (e.g. us-east-1)")
    image = getattr(args, "image", None)
    if image is not None and (not image.strip() or any(ch.isspace() or ord(ch) < 32 for ch in image)):
        raise Rejected("--image must be a registry/repository:tag without whitespace or control characters")
    for flag, value in (
        ("NFC_DEPLOY_SLACK_WEBHOOK/--slack-webhook", getattr(args, "slack_webhook", None)),  # pragma: allowlist secret
        ("--green-test-url", getattr(args, "green_test_url", None)),
        ("--smoke-url", getattr(args, "smoke_url", None)),
        ("--grafana-url", getattr(args, "grafana_url", None)),
    ):
        if value:
            try:
                check_url(value, flag)
            except ValueError as exc:
                raise Rejected(str(exc)) from None
    for spec in (getattr(args, "green_check", None) or []) + (getattr(args, "smoke_check", None) or []):
        try:
            _, path, _ = parse_check(spec)
        except (ValueError, IndexError):
            raise Rejected(f"a check must read 'METHOD /path STATUS', got {spec[:60]!r}") from None
        if not path.startswith("/"):
            raise Rejected(f"a check's path must start with '/', got {spec[:60]!r}")
    if getattr(args, "steps", None) is not None and getattr(args, "strategy", "custom") != "custom":
        raise Rejected("--steps needs --strategy custom")
    if getattr(args, "report_dir", None):
        report_dir = Path(args.report_dir)
        try:
            report_dir.mkdir(parents=True, exist_ok=True)
            probe = report_dir / f".deploy-write-test-{os.getpid()}"
            probe.write_text("", encoding="utf-8")
            probe.unlink()
        except OSError as exc:
            raise Rejected(f"--report-dir {args.report_dir!r} is not writable: {exc.strerror}") from None
    if args.command == "production" and not args.resume:
        windows = [(f"step at {s.green_weight}%", s.hold_s) for s in plan_steps_of(args) if s.hold_s > 0]
        windows += [("bake", args.bake_minutes * 60)] if args.bake_minutes > 0 else []
        need = args.min_latency_samples * args.metric_period_s
        short = [(name, hold) for name, hold in windows if hold < need]
        if short:
            name, hold = short[0]
            raise Rejected(
                f"the {name} watches {hold:g} s, fewer than --min-latency-samples "
                f"{args.min_latency_samples} periods of --metric-period-s {args.metric_period_s}: "
                "it could never judge latency. Lengthen the window or lower those"
            )
    if hasattr(args, "lock_ttl_s") and args.command in ("staging", "production", "rollback"):
        budget = call_budget_s(args)
        if args.lock_ttl_s < 3 * budget:
            raise Rejected(
                f"--lock-ttl-s {args.lock_ttl_s:g} is too short: one AWS call can take {budget:.0f} s "
                f"(--aws-max-attempts x timeouts + backoff) and the lease must outlast it three times over "
                f"(at least {3 * budget:.0f} s)"
            )
