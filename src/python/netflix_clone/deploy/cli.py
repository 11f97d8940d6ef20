"""deploy: the pex CI calls to ship a service to ECS.

  deploy staging     new task-definition revision (image pinned by digest) -> rolled out -> smoke tests
  deploy production  blue-green behind an ALB: green up, tested, traffic shifted in analysed steps,
                     baked, blue retired; automatic rollback with the reason on any failure
  deploy rollback    traffic and service back to the previous colour / revision
  deploy status      the last deploy's recorded state

Exit codes: 0 done; 1 failed (and rolled back); 2 usage; 3 another deploy holds the lock;
4 deployed, but a post-deploy step failed. Reports: --report-dir (JSON + text). --json prints JSON.
Secrets come from the environment (the GitHub workflow's names): LB_LISTENER_ARN, BLUE_TARGET_GROUP_ARN,
GREEN_TARGET_GROUP_ARN, CLOUDFRONT_DISTRIBUTION_ID, GRAFANA_API_KEY, SLACK_WEBHOOK.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional

from netflix_clone.platform.logging import configure_logging

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED, EXIT_POST_DEPLOY = 0, 1, 2, 3, 4


def _env(name: str) -> Optional[str]:
    return os.environ.get(name) or None


def _steps(args: argparse.Namespace) -> Any:
    from netflix_clone.deploy.domain.strategies import plan_steps

    custom = [int(x) for x in args.steps.split(",")] if args.steps else None
    return tuple(
        plan_steps(
            args.strategy,
            step_s=args.step_minutes * 60,
            canary_percent=args.canary_percent,
            canary_hold_s=args.canary_minutes * 60,
            linear_percent=args.linear_percent,
            custom=custom,
        )
    )


def _target(args: argparse.Namespace) -> Any:
    from netflix_clone.deploy.orchestrator import ProductionTarget

    missing = [
        flag
        for flag, value in (
            ("--listener-arn/LB_LISTENER_ARN", args.listener_arn),
            ("--blue-target-group/BLUE_TARGET_GROUP_ARN", args.blue_target_group),
            ("--green-target-group/GREEN_TARGET_GROUP_ARN", args.green_target_group),
        )
        if not value
    ]
    if missing:
        raise SystemExit(f"deploy: missing {', '.join(missing)}")
    return ProductionTarget(
        cluster=args.cluster or "netflix-clone-production",
        service=args.service,
        listener_arn=args.listener_arn,
        blue_target_group=args.blue_target_group,
        green_target_group=args.green_target_group,
        rule_arns=tuple(args.rule_arn or ()),
        container=args.container,
    )


def _settings(args: argparse.Namespace) -> Any:
    from netflix_clone.deploy.domain.analysis import AnalysisConfig
    from netflix_clone.deploy.orchestrator import ProductionSettings

    return ProductionSettings(
        steps=_steps(args) if getattr(args, "strategy", None) else (),
        analysis=AnalysisConfig(
            min_requests=args.min_requests,
            max_error_rate=args.max_error_rate,
            latency_tolerance=args.latency_tolerance,
            max_p99_ms=args.max_p99_ms,
        ),
        metric_period_s=args.metric_period_s,
        bake_s=getattr(args, "bake_minutes", 0) * 60,
        rollout_timeout_s=args.rollout_timeout_s,
        poll_s=args.poll_s,
        green_test_url=getattr(args, "green_test_url", None),
        green_checks=tuple(
            getattr(args, "green_check", None) or ("GET /healthz 200", "GET /readyz 200")
        ),
        nodata_policy=getattr(args, "nodata_policy", "extend"),
        marginal_policy=getattr(args, "marginal_policy", "extend"),
    )


def make_gateway(region: Optional[str]) -> Any:
    """The AWS gateway (tests substitute a scripted one around it)."""
    from netflix_clone.deploy.adapters.gateway import Boto3Gateway

    return Boto3Gateway(region)


def _deployer(args: argparse.Namespace) -> Any:
    from netflix_clone.deploy.adapters.coordination import DeployCoordinator
    from netflix_clone.deploy.adapters.notify import SlackNotifier
    from netflix_clone.deploy.orchestrator import Deployer, RealClock

    coordinator = DeployCoordinator(args.lock_table)
    coordinator.ensure_table()
    notifier = SlackNotifier(args.slack_webhook) if args.slack_webhook else None
    return Deployer(
        make_gateway(args.region),
        coordinator,
        RealClock(),
        notifier,
        owner=args.owner,
        progress=lambda message: print(message, file=sys.stderr, flush=True),
        lock_ttl_s=args.lock_ttl_s,
    )


def _plan_text(args: argparse.Namespace) -> tuple[list[str], dict[str, Any]]:
    """The plan for --dry-run: read-only lookups where AWS answers, placeholders where it does not."""
    steps = _steps(args)
    target = _target(args)
    live = "blue (assumed)"
    try:
        from netflix_clone.deploy.adapters.gateway import Boto3Gateway

        weights = Boto3Gateway(args.region).listener_weights(target.listener_arn)
        live = (
            "blue"
            if weights.get(target.blue_target_group, 0) >= weights.get(target.green_target_group, 0)
            else "green"
        )
    except (
        Exception
    ) as exc:  # pylint: disable=broad-except  # a dry run must work without AWS access
        live = f"blue (assumed; listener not readable: {type(exc).__name__})"
    idle = "green" if live.startswith("blue") else "blue"
    lines = [
        f"DRY RUN - production deploy of {args.service} to {target.cluster}; nothing will be changed",
        f" 1. lock production#{args.service} in DynamoDB table {args.lock_table} (TTL {args.lock_ttl_s:.0f} s)",
        f" 2. resolve {args.image} to an image digest in ECR",
        f" 3. register a task-definition revision of {args.service}-{live.split()[0]} with that digest",
        f" 4. scale {args.service}-{idle} to the live desired count on the new revision; wait for rolloutState "
        f"COMPLETED and healthy targets (timeout {args.rollout_timeout_s:.0f} s)",
        f" 5. tests against {idle}: {args.green_test_url or '(no --green-test-url: skipped)'}",
    ]
    n = 6
    for step in steps:
        hold = (
            f", analyse {step.hold_s / 60:g} min (5xx rate and p99 vs {live.split()[0]}, no data = fail)"
            if step.hold_s
            else ""
        )
        lines.append(
            f" {n}. listener weights: {idle} {step.green_weight}% / {live.split()[0]} {100 - step.green_weight}%{hold}"
        )
        n += 1
    lines.append(
        f" {n}. bake {args.bake_minutes:g} min with analysis; "
        f"then scale {args.service}-{live.split()[0]} to 0 (revision kept)"
    )
    n += 1
    post = []
    if args.cloudfront_distribution_id and args.invalidate:
        post.append(
            f"invalidate {len(args.invalidate)} path(s) on {args.cloudfront_distribution_id}"
        )
    if args.warm_cache:
        post.append("warm the Redis top-N cache with recommendation-service's warm-cache task")
    if args.grafana_url:
        post.append(f"upsert dashboards and annotate on {args.grafana_url}")
    if post:
        lines.append(f" {n}. post-deploy: " + "; ".join(post))
    lines.append(
        " on any failure: weights back to 100% "
        + live.split()[0]
        + f", {args.service}-{idle} scaled to 0, exit 1 with the reason"
    )
    plan = {
        "dry_run": True,
        "service": args.service,
        "live_color": live,
        "steps": [s.as_dict() for s in steps],
        "plan": lines,
    }
    return lines, plan


def _post(args: argparse.Namespace) -> Any:
    from netflix_clone.deploy.adapters.notify import GrafanaClient
    from netflix_clone.deploy.orchestrator import PostDeploy

    grafana = None
    if args.grafana_url:
        if not args.grafana_api_key:
            raise SystemExit("deploy: --grafana-url needs GRAFANA_API_KEY")
        grafana = GrafanaClient(args.grafana_url, args.grafana_api_key)
    dashboards = Path(args.dashboards) if args.dashboards else Path(__file__).parent / "dashboards"
    return PostDeploy(
        cloudfront_distribution_id=args.cloudfront_distribution_id,
        invalidation_paths=tuple(args.invalidate or ()),
        warm_cache=args.warm_cache,
        grafana=grafana,
        dashboards_dir=dashboards,
    )


def _finish(
    args: argparse.Namespace,
    state: Any,
    outcome: str,
    code: int,
    post: Optional[dict[str, Any]] = None,
) -> int:
    from netflix_clone.deploy.reports import render_human, write_reports

    json_path, text_path = write_reports(Path(args.report_dir), state, outcome, post)
    if args.json:
        print(
            json.dumps(
                {
                    "outcome": outcome,
                    "exit_code": code,
                    "report": str(json_path),
                    "reason": state.reason,
                    "state": asdict(state),
                    "post_deploy": post or {},
                },
                indent=2,
                default=str,
            )
        )
    else:
        print(render_human(state, outcome, post), end="")
        print(f"reports: {json_path} {text_path}")
    return code


def cmd_staging(args: argparse.Namespace) -> int:
    from netflix_clone.deploy.orchestrator import DeployFailed

    if args.dry_run:
        print(f"DRY RUN - staging deploy of {args.service} ({args.image}) "
              f"to {args.cluster or 'netflix-clone-staging'}: "
              "register revision pinned by digest -> update service -> wait COMPLETED + healthy -> smoke tests "
              f"{list(args.smoke_check or ['GET /healthz 200'])} on {args.smoke_url or '(none)'}")  # fmt: skip
        return EXIT_OK
    deployer = _deployer(args)
    try:
        state = deployer.staging(
            args.cluster or "netflix-clone-staging",
            args.service,
            args.image,
            args.target_group,
            args.smoke_url,
            tuple(args.smoke_check or ("GET /healthz 200",)),
            args.container,
            args.rollout_timeout_s,
            args.poll_s,
        )
    except DeployFailed as exc:
        if exc.state is None:
            print(f"deploy failed: {exc.reason}", file=sys.stderr)
            return EXIT_FAILED
        return _finish(
            args,
            exc.state,
            "rolled back" if exc.state.phase == "rolled_back" else "failed",
            EXIT_FAILED,
        )
    return _finish(args, state, "succeeded", EXIT_OK)


def cmd_production(args: argparse.Namespace) -> int:
    from netflix_clone.deploy.orchestrator import DeployFailed

    if args.dry_run:
        lines, plan = _plan_text(args)
        print(json.dumps(plan, indent=2) if args.json else "\n".join(lines))
        return EXIT_OK
    deployer = _deployer(args)
    try:
        state = deployer.production(_target(args), args.image, _settings(args), resume=args.resume)
    except DeployFailed as exc:
        if exc.state is None:
            print(f"deploy failed before it changed anything: {exc.reason}", file=sys.stderr)
            return EXIT_FAILED
        return _finish(args, exc.state, "rolled back", EXIT_FAILED)
    post = deployer.post_deploy(_target(args), state, _post(args))
    ok = all(result.get("ok") for result in post.values())
    return _finish(
        args,
        state,
        "succeeded" if ok else "succeeded; post-deploy step failed",
        EXIT_OK if ok else EXIT_POST_DEPLOY,
        post,
    )


def cmd_rollback(args: argparse.Namespace) -> int:
    from netflix_clone.deploy.orchestrator import DeployFailed

    deployer = _deployer(args)
    try:
        state = deployer.rollback(_target(args), _settings(args), reason=args.reason)
    except DeployFailed as exc:
        print(f"rollback failed: {exc.reason}", file=sys.stderr)
        return EXIT_FAILED
    return _finish(args, state, "rolled back", EXIT_OK)


def cmd_status(args: argparse.Namespace) -> int:
    from netflix_clone.deploy.adapters.coordination import DeployCoordinator

    coordinator = DeployCoordinator(args.lock_table)
    key = coordinator.key(args.environment, args.service)
    state = coordinator.load(key)
    holder = coordinator.holder(key)
    data = {
        "state": asdict(state) if state else None,
        "lock": {"owner": holder[0], "expires_at": holder[1]} if holder else None,
    }
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    elif state is None:
        print(f"no deploy recorded for {key}")
    else:
        print(
            f"{key}: {state.phase} (deploy {state.deploy_id}, {state.image})"
            f"{' - ' + state.reason if state.reason else ''}"
        )
        if holder:
            print(f"locked by {holder[0]}")
    return EXIT_OK


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--service",
        required=True,
        choices=("analytics-consumer", "recommendation-service", "video-processor"),
    )
    p.add_argument("--cluster", default=None)
    p.add_argument("--region", default=_env("AWS_REGION") or _env("AWS_DEFAULT_REGION"))
    p.add_argument("--container", default=None, help="container to update (default: the first)")
    p.add_argument("--lock-table", default=_env("DEPLOY_LOCK_TABLE") or "netflix-clone-deploys")
    p.add_argument("--lock-ttl-s", type=float, default=3600.0)
    p.add_argument(
        "--owner", default=_env("GITHUB_RUN_ID") and f"github-run-{_env('GITHUB_RUN_ID')}"
    )
    p.add_argument("--slack-webhook", default=_env("SLACK_WEBHOOK"))
    p.add_argument("--report-dir", default="deploy-reports")
    p.add_argument("--rollout-timeout-s", type=float, default=900.0)
    p.add_argument("--poll-s", type=float, default=15.0)
    p.add_argument("--json", action="store_true")


def _production_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--listener-arn", default=_env("LB_LISTENER_ARN"))
    p.add_argument("--blue-target-group", default=_env("BLUE_TARGET_GROUP_ARN"))
    p.add_argument("--green-target-group", default=_env("GREEN_TARGET_GROUP_ARN"))
    p.add_argument(
        "--rule-arn",
        action="append",
        help="listener rules that forward to the service (repeatable)",
    )
    p.add_argument("--min-requests", type=int, default=100)
    p.add_argument("--max-error-rate", type=float, default=0.01)
    p.add_argument("--latency-tolerance", type=float, default=0.20)
    p.add_argument("--max-p99-ms", type=float, default=None)
    p.add_argument("--metric-period-s", type=int, default=60)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deploy", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--log-level", default=os.environ.get("NFC_LOG_LEVEL", "INFO"))
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("staging", help="deploy to staging")
    _common(p)
    p.add_argument("--image", required=True)
    p.add_argument("--target-group", default=_env("STAGING_TARGET_GROUP_ARN"))
    p.add_argument("--smoke-url", default=_env("STAGING_URL"))
    p.add_argument("--smoke-check", action="append", help='e.g. "GET /healthz 200" (repeatable)')
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(func=cmd_staging)

    p = sub.add_parser("production", help="blue-green deploy to production")
    _common(p)
    _production_flags(p)
    p.add_argument("--image", required=True)
    p.add_argument(
        "--strategy", choices=("canary", "linear", "all-at-once", "custom"), default="canary"
    )
    p.add_argument("--steps", help="custom: rising percentages ending at 100, e.g. 5,25,50,100")
    p.add_argument("--step-minutes", type=float, default=1.0)
    p.add_argument("--canary-percent", type=int, default=10)
    p.add_argument("--canary-minutes", type=float, default=5.0)
    p.add_argument("--linear-percent", type=int, default=10)
    p.add_argument("--bake-minutes", type=float, default=5.0)
    p.add_argument("--green-test-url", default=_env("GREEN_TEST_URL"))
    p.add_argument("--green-check", action="append")
    p.add_argument("--nodata-policy", choices=("extend", "fail"), default="extend")
    p.add_argument("--marginal-policy", choices=("extend", "fail", "continue"), default="extend")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted deploy from its recorded state",
    )
    p.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    p.add_argument("--cloudfront-distribution-id", default=_env("CLOUDFRONT_DISTRIBUTION_ID"))
    p.add_argument(
        "--invalidate", action="append", help="CloudFront path to invalidate (repeatable)"
    )
    p.add_argument(
        "--warm-cache",
        action="store_true",
        help="run recommendation-service's warm-cache task after",
    )
    p.add_argument("--grafana-url", default=_env("GRAFANA_URL"))
    p.add_argument("--grafana-api-key", default=_env("GRAFANA_API_KEY"))
    p.add_argument(
        "--dashboards",
        default=None,
        help="directory of dashboard JSON (default: the packaged ones)",
    )
    p.set_defaults(func=cmd_production)

    p = sub.add_parser("rollback", help="back to the previous colour and revision")
    _common(p)
    _production_flags(p)
    p.add_argument("--reason", default="manual rollback")
    p.set_defaults(func=cmd_rollback)

    p = sub.add_parser("status", help="the last recorded deploy")
    p.add_argument("--service", required=True)
    p.add_argument("--environment", choices=("staging", "production"), default="production")
    p.add_argument("--lock-table", default=_env("DEPLOY_LOCK_TABLE") or "netflix-clone-deploys")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging("deploy", args.log_level)
    # botocore narrates credential and endpoint discovery at INFO; a deploy log is for the deploy.
    logging.getLogger("botocore").setLevel(max(logging.WARNING, logging.getLogger().level))
    from netflix_clone.deploy.adapters.coordination import LockHeld

    try:
        return int(args.func(args))
    except LockHeld as exc:
        print(f"deploy: {exc}", file=sys.stderr)
        return EXIT_LOCKED


if __name__ == "__main__":
    sys.exit(main())
