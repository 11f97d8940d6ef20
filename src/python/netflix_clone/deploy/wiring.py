"""From parsed arguments to the objects a rollout runs with: the AWS session and gateway, the lock, the
rollout context (with the signal handling it shields), the production target and settings.
"""

from __future__ import annotations

import argparse
import getpass
import os
import signal
import socket
import sys
from pathlib import Path
from types import FrameType
from typing import Any, Optional

from netflix_clone.deploy.arguments import call_budget_s, plan_steps_of
from netflix_clone.deploy.errors import Interrupted, Rejected
from netflix_clone.platform.redaction import Redactor

__all__ = [
    "SIGNALS",
    "Signals",
    "aws_session",
    "default_owner",
    "deploy_lock",
    "post_deploy_plan",
    "production_settings",
    "production_target",
    "rollout_context",
]


class Signals:
    """SIGINT/SIGTERM raise Interrupted in the main thread - once, and never inside a shielded step
    (taking or releasing the lock, a rollback, recording a success): those note it and go on."""

    def __init__(self) -> None:
        self.context: Any = None

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, frame: Optional[FrameType]) -> None:  # noqa: ARG002
        name = signal.Signals(signum).name
        if self.context is None:
            raise Interrupted(name)  # nothing has been touched yet
        deferred = len(self.context.deferred_signals)
        self.context.interrupt(name)  # raises Interrupted unless the step is shielded
        if len(self.context.deferred_signals) > deferred:
            print(f"deploy: {name} received; finishing the current step first", file=sys.stderr)


SIGNALS = Signals()


def default_owner() -> str:
    run = os.environ.get("GITHUB_RUN_ID")
    if run:
        return f"github-run-{run}.{os.environ.get('GITHUB_RUN_ATTEMPT') or 1}/{os.environ.get('GITHUB_JOB') or 'job'}"
    try:
        user = getpass.getuser()
    except Exception:  # pylint: disable=broad-except  # no passwd entry in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname()}:{os.getpid()}"


def production_target(args: argparse.Namespace) -> Any:
    from netflix_clone.deploy.rollout.rollback import ProductionTarget

    missing = [
        flag
        for flag, value in (
            ("--listener-arn/NFC_DEPLOY_LB_LISTENER_ARN", args.listener_arn),  # pragma: allowlist secret
            # pragma: allowlist nextline secret
            ("--blue-target-group/NFC_DEPLOY_BLUE_TARGET_GROUP_ARN", args.blue_target_group),
            ("--green-target-group/NFC_DEPLOY_GREEN_TARGET_GROUP_ARN", args.green_target_group),
        )
        if not value
    ]
    if missing:
        raise Rejected(f"missing {', '.join(missing)}")
    if args.blue_target_group == args.green_target_group:
        raise Rejected("the blue and green target groups must differ")
    rules = tuple(r.strip() for item in (args.rule_arn or ()) for r in item.split(",") if r.strip())
    return ProductionTarget(
        cluster=args.cluster or "netflix-clone-production",
        service=args.service,
        listener_arn=args.listener_arn,
        blue_target_group=args.blue_target_group,
        green_target_group=args.green_target_group,
        rule_arns=rules,
        container=args.container,
    )


def production_settings(args: argparse.Namespace) -> Any:
    from netflix_clone.deploy.domain.analysis import AnalysisConfig
    from netflix_clone.deploy.rollout.blue_green import ProductionSettings

    return ProductionSettings(
        steps=plan_steps_of(args),
        analysis=AnalysisConfig(
            min_requests=args.min_requests,
            min_latency_samples=args.min_latency_samples,
            max_error_rate=args.max_error_rate,
            latency_tolerance=args.latency_tolerance,
            max_p99_ms=args.max_p99_ms,
        ),
        metric_period_s=args.metric_period_s,
        bake_s=args.bake_minutes * 60,
        baseline_s=args.baseline_minutes * 60,
        green_test_url=args.green_test_url,
        green_checks=tuple(args.green_check or ("GET /healthz 200", "GET /readyz 200")),
        nodata_policy=args.nodata_policy,
        marginal_policy=args.marginal_policy,
    )


def aws_session(args: argparse.Namespace) -> Any:
    import boto3

    return boto3.session.Session(region_name=args.region)


def deploy_lock(args: argparse.Namespace, session: Any, ensure: bool = True) -> Any:
    from botocore.config import Config

    from netflix_clone.deploy.adapters.aws_gateway import describe_error
    from netflix_clone.deploy.adapters.lock import DeployLock

    client = session.client(
        "dynamodb",
        config=Config(
            retries={"mode": "standard", "max_attempts": args.aws_max_attempts},
            connect_timeout=min(5.0, args.aws_timeout_s),
            read_timeout=args.aws_timeout_s,
        ),
    )
    lock = DeployLock(args.lock_table, client)
    if ensure:
        # Never created on the fly: a typo in --lock-table would give a fresh table, and with it no
        # mutual exclusion with the runs that use the real one. `deploy init` creates it, once.
        try:
            exists = lock.table_exists()
        except Exception as exc:  # pylint: disable=broad-except  # one line, classified
            error = describe_error(exc, f"DynamoDB lock table {args.lock_table}")
            raise (Rejected(str(error)) if error.user_error else error) from None
        if not exists:
            raise Rejected(
                f"no DynamoDB lock table {args.lock_table!r} in {args.region or 'this region'}: "
                f"create it once with `deploy init --lock-table {args.lock_table}`"
            )
    return lock


def rollout_context(args: argparse.Namespace, redactor: Redactor) -> Any:
    from netflix_clone.deploy.adapters.aws_gateway import Boto3Gateway
    from netflix_clone.deploy.adapters.notify import SlackNotifier
    from netflix_clone.deploy.rollout.context import RealClock, RolloutContext, Waits

    session = aws_session(args)
    gateway = Boto3Gateway(
        session=session,
        max_attempts=args.aws_max_attempts,
        connect_timeout_s=min(5.0, args.aws_timeout_s),
        read_timeout_s=args.aws_timeout_s,
    )
    ctx = RolloutContext(
        gateway=gateway,
        lock=deploy_lock(args, session),
        clock=RealClock(),
        notifier=SlackNotifier(args.slack_webhook) if args.slack_webhook else None,
        owner=args.owner or default_owner(),
        progress=lambda message: print(redactor.redact(message), file=sys.stderr, flush=True),
        lock_ttl_s=args.lock_ttl_s,
        call_budget_s=call_budget_s(args),
        waits=Waits(
            rollout_timeout_s=args.rollout_timeout_s,
            poll_s=args.poll_s,
            recovery_timeout_s=args.recovery_timeout_s,
        ),
    )
    SIGNALS.context = ctx  # the signal handler asks it whether a rollback is under way
    return ctx


def post_deploy_plan(args: argparse.Namespace) -> Any:
    from netflix_clone.deploy.adapters.notify import GrafanaClient
    from netflix_clone.deploy.rollout.post_deploy import PostDeploy

    grafana = None
    if args.grafana_url:
        if not args.grafana_api_key:
            raise Rejected("--grafana-url needs --grafana-api-key (NFC_DEPLOY_GRAFANA_API_KEY)")
        grafana = GrafanaClient(args.grafana_url, args.grafana_api_key)
    dashboards = Path(args.dashboards) if args.dashboards else Path(__file__).parent / "dashboards"
    return PostDeploy(
        cloudfront_distribution_id=args.cloudfront_distribution_id,
        invalidation_paths=tuple(args.invalidate or ()),
        warm_cache=args.warm_cache,
        grafana=grafana,
        dashboards_dir=dashboards,
        poll_s=min(10.0, args.poll_s),
        invalidation_timeout_s=args.rollout_timeout_s,
        warm_cache_timeout_s=args.rollout_timeout_s,
    )
