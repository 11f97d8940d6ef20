"""deploy: the pex CI calls to ship a service to ECS.

  deploy staging     new task-definition revision (image pinned by digest) -> rolled out -> smoke tests
  deploy production  blue-green behind an ALB: green up, tested, traffic shifted in analysed steps,
                     baked, blue retired; on any failure, SIGINT or SIGTERM: back to the known-good colour
  deploy rollback    back to the known-good revision recorded by the last deploy (never a guess)
  deploy status      the last deploy's record and the lock (with its token)
  deploy break-lock  remove a dead run's lock, by the token `status` shows

Exit codes: 0 done; 1 failed, service on its known-good revision; 2 rejected (usage, configuration,
nothing to act on), nothing changed; 3 lock held by another run, or lost by this one; 4 deployed, a
post-deploy step failed; 5 failed and the rollback could not finish - run `deploy rollback`.
Reports: --report-dir (JSON + text); --json prints JSON. Secrets never appear in any output.

Environment (each flag's default; the GitHub workflow maps per-service secrets onto these names):
  AWS_REGION / AWS_DEFAULT_REGION, DEPLOY_LOCK_TABLE, SLACK_WEBHOOK, LB_LISTENER_ARN, LB_RULE_ARN
  (comma-separated), BLUE_TARGET_GROUP_ARN, GREEN_TARGET_GROUP_ARN, STAGING_TARGET_GROUP_ARN,
  STAGING_URL, GREEN_TEST_URL, CLOUDFRONT_DISTRIBUTION_ID, GRAFANA_URL, GRAFANA_API_KEY, NFC_LOG_LEVEL.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import math
import os
import re
import signal
import socket
import sys
from pathlib import Path
from types import FrameType
from typing import Any, Optional

from netflix_clone.deploy.errors import (
    EXIT_FAILED,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_POST_DEPLOY,
    EXIT_ROLLBACK_INCOMPLETE,
    EXIT_USAGE,
    DeployError,
    DeployFailed,
    Interrupted,
    LockLost,
    Rejected,
)
from netflix_clone.platform.logging import configure_logging
from netflix_clone.platform.redaction import Redactor

__all__ = ["build_parser", "main"]

SERVICES = ("analytics-consumer", "recommendation-service", "video-processor")
log = logging.getLogger("netflix_clone.deploy")


def _env(name: str) -> Optional[str]:
    return os.environ.get(name) or None


def _default_owner() -> str:
    run = _env("GITHUB_RUN_ID")
    if run:
        return f"github-run-{run}.{_env('GITHUB_RUN_ATTEMPT') or 1}/{_env('GITHUB_JOB') or 'job'}"
    try:
        user = getpass.getuser()
    except Exception:  # pylint: disable=broad-except  # no passwd entry in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname()}:{os.getpid()}"


# Argument types: bad values are usage errors (exit 2, one line), found before anything runs. -----
def _steps_arg(text: str) -> list[int]:
    from netflix_clone.deploy.domain.strategies import StrategyError, parse_steps

    try:
        return parse_steps(text)
    except StrategyError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _number(kind: type, text: str) -> Any:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text[:40]!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text[:40]!r}")
    return value


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        value = _number(kind, text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
        return value

    return parse


def _non_negative(text: str) -> float:
    value = float(_number(float, text))
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text!r}")
    return value


def _percent(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole percentage: {text!r}") from None
    if not 0 < value <= 100:
        raise argparse.ArgumentTypeError(f"must be within 1..100, got {value}")
    return value


def _fraction(text: str) -> float:
    value = _non_negative(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be a fraction within 0..1, got {text!r}")
    return value


# Building blocks -----------------------------------------------------------------------------------
def _steps(args: argparse.Namespace) -> Any:
    from netflix_clone.deploy.domain.strategies import StrategyError, plan_steps

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


def _target(args: argparse.Namespace) -> Any:
    from netflix_clone.deploy.rollout.rollback import ProductionTarget

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


def _settings(args: argparse.Namespace) -> Any:
    from netflix_clone.deploy.domain.analysis import AnalysisConfig
    from netflix_clone.deploy.rollout.blue_green import ProductionSettings

    return ProductionSettings(
        steps=_steps(args),
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


def _session(args: argparse.Namespace) -> Any:
    import boto3

    return boto3.session.Session(region_name=args.region)


def call_budget_s(args: argparse.Namespace) -> float:
    """The longest one AWS call can take: every attempt's connect and read timeouts plus botocore's
    standard-mode backoff between them (doubling, at most 20 s each)."""
    attempts = int(args.aws_max_attempts)
    timeout = float(args.aws_timeout_s)
    backoff = sum(min(20.0, 2.0**i) for i in range(1, attempts))
    return attempts * (min(5.0, timeout) + timeout) + backoff


def _lock(args: argparse.Namespace, session: Any, ensure: bool = True) -> Any:
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


def _context(args: argparse.Namespace, redactor: Redactor) -> Any:
    from netflix_clone.deploy.adapters.aws_gateway import Boto3Gateway
    from netflix_clone.deploy.adapters.notify import SlackNotifier
    from netflix_clone.deploy.rollout.context import RealClock, RolloutContext, Waits

    session = _session(args)
    gateway = Boto3Gateway(
        session=session,
        max_attempts=args.aws_max_attempts,
        connect_timeout_s=min(5.0, args.aws_timeout_s),
        read_timeout_s=args.aws_timeout_s,
    )
    ctx = RolloutContext(
        gateway=gateway,
        lock=_lock(args, session),
        clock=RealClock(),
        notifier=SlackNotifier(args.slack_webhook) if args.slack_webhook else None,
        owner=args.owner or _default_owner(),
        progress=lambda message: print(redactor.redact(message), file=sys.stderr, flush=True),
        lock_ttl_s=args.lock_ttl_s,
        call_budget_s=call_budget_s(args),
        waits=Waits(
            rollout_timeout_s=args.rollout_timeout_s,
            poll_s=args.poll_s,
            recovery_timeout_s=args.recovery_timeout_s,
        ),
    )
    _SIGNALS.context = ctx  # the signal handler asks it whether a rollback is under way
    return ctx


_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")


def _validate(args: argparse.Namespace) -> None:
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
        ("SLACK_WEBHOOK/--slack-webhook", getattr(args, "slack_webhook", None)),
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
        windows = [(f"step at {s.green_weight}%", s.hold_s) for s in _steps(args) if s.hold_s > 0]
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


def _emit(args: argparse.Namespace, redactor: Redactor, payload: dict[str, Any], line: str) -> None:
    """One line for people on stderr, always; the same outcome as JSON on stdout with --json."""
    print(redactor.redact(line), file=sys.stderr)
    if args.json:
        print(json.dumps(redactor.redact_obj(payload), indent=2, default=str))


def _finish(
    args: argparse.Namespace,
    redactor: Redactor,
    state: Any,
    outcome: str,
    code: int,
    post: Optional[dict[str, Any]] = None,
    next_step: Optional[str] = None,
) -> int:
    from netflix_clone.deploy.reports import render_human, write_reports

    json_path, text_path = write_reports(
        Path(args.report_dir), state, outcome, post, redactor=redactor, next_step=next_step
    )
    if args.json:
        payload = {
            "outcome": outcome,
            "exit_code": code,
            "report": str(json_path),
            "reason": state.reason,
            "next_step": next_step,
            "state": state.as_dict(),
            "post_deploy": post or {},
        }
        print(json.dumps(redactor.redact_obj(payload), indent=2, default=str))
    else:
        print(redactor.redact(render_human(state, outcome, post, next_step)), end="")
        print(f"reports: {json_path} {text_path}")
    return code


def _failed(args: argparse.Namespace, redactor: Redactor, exc: DeployFailed, what: str) -> int:
    if exc.state is None:
        _emit(
            args,
            redactor,
            {
                "outcome": "failed",
                "exit_code": EXIT_FAILED,
                "reason": f"{exc.reason}; nothing was changed",
            },
            f"deploy: {what} failed before changing anything: {exc.reason}",
        )
        return EXIT_FAILED
    if exc.restored:
        return _finish(args, redactor, exc.state, "rolled back", EXIT_FAILED)
    return _finish(
        args,
        redactor,
        exc.state,
        "failed; rollback incomplete",
        EXIT_ROLLBACK_INCOMPLETE,
        next_step=f"deploy rollback --service {args.service} (same settings) finishes the rollback",
    )


def _lock_lost(args: argparse.Namespace, redactor: Redactor, ctx: Any) -> int:
    """This run lost its lease and stopped. Its report shows the record as it now stands (another run
    owns it), or this run's last view of it if the record cannot be read."""
    if ctx.current is None:
        raise  # pylint: disable=misplaced-bare-raise  # main() prints the one-line error
    state = ctx.current
    key = ctx.lock.key(state.environment, state.service)
    holder = None
    try:
        state = ctx.lock.load(key) or state
        holder = ctx.lock.holder(key)
    except Exception as exc:  # pylint: disable=broad-except  # DynamoDB down: report our last view
        log.warning("could not re-read the deploy record: %s", exc)
    if holder is not None and holder.owner != ctx.owner:
        why = f"{holder.owner} holds the lock now (`deploy status`)"
    else:
        why = (
            "this run's lease expired (DynamoDB unreachable or the run paused for longer than the "
            "lease); nobody else acted"
        )
    next_step = f"{why}; this run changed nothing after losing it. The record says {state.phase}: " + (
        "nothing more to do" if state.terminal else "run `deploy rollback` (or `--resume`) when DynamoDB answers"
    )
    ctx.notify(
        f":warning: {state.environment} {state.kind} of {state.service} stopped: lost the deploy lock. " + next_step,
        "warning",
    )
    return _finish(args, redactor, state, "stopped: lost the deploy lock", EXIT_LOCKED, next_step=next_step)


# Commands ------------------------------------------------------------------------------------------
def cmd_staging(args: argparse.Namespace, redactor: Redactor) -> int:
    from netflix_clone.deploy.rollout.staging import staging

    cluster = args.cluster or "netflix-clone-staging"
    if args.dry_run:
        checks = list(args.smoke_check or ["GET /healthz 200"])
        line = (
            f"DRY RUN - staging deploy of {args.service} ({args.image}) to {cluster}: register a "
            "revision pinned by digest -> update the service -> wait COMPLETED + healthy -> smoke "
            f"tests {checks} on {args.smoke_url or '(none)'}; on failure the previous revision is put back"
        )
        print(json.dumps({"dry_run": True, "plan": [line]}) if args.json else line)
        return EXIT_OK
    ctx = _context(args, redactor)
    try:
        state = staging(
            ctx,
            cluster,
            args.service,
            args.image,
            args.target_group,
            args.smoke_url,
            tuple(args.smoke_check or ("GET /healthz 200",)),
            args.container,
        )
    except DeployFailed as exc:
        return _failed(args, redactor, exc, "staging deploy")
    except LockLost:
        return _lock_lost(args, redactor, ctx)
    return _finish(args, redactor, state, "succeeded", EXIT_OK)


def _plan(args: argparse.Namespace) -> tuple[list[str], dict[str, Any]]:
    """The plan for --dry-run: read-only lookups where AWS answers, labelled guesses where not."""
    from netflix_clone.deploy.adapters.aws_gateway import Boto3Gateway
    from netflix_clone.deploy.rollout.blue_green import live_color_of

    steps = _steps(args)
    target = _target(args)
    note = None
    try:
        gateway = Boto3Gateway(session=_session(args), max_attempts=2, read_timeout_s=10)
        live = live_color_of(target, gateway.route_weights(target.route))
        if live is None:
            note = "traffic is split or routed elsewhere: the deploy would refuse to start"
    except Exception as exc:  # pylint: disable=broad-except  # a dry run works without AWS access
        live = None
        note = f"listener not readable: {str(exc).splitlines()[0][:200]}"
    known = live is not None
    old = live or "blue"
    new = "green" if old == "blue" else "blue"
    label_old = old if known else f"{old} (assumed; {note})"
    label_new = new if known else f"{new} (assumed)"
    lines = [
        f"DRY RUN - production deploy of {args.service} to {target.cluster}; nothing will be changed",
        f"live colour: {label_old}",
        f" 1. lock production#{args.service} in DynamoDB table {args.lock_table} "
        f"(lease {args.lock_ttl_s:.0f} s, renewed while the deploy runs)",
        f" 2. check {target.route.describe()} forwards only to {args.service}'s target groups and "
        "each colour's ECS service registers in its own",
        f" 3. resolve {args.image} to an image digest in ECR",
        f" 4. register a task-definition revision of {args.service}-{label_old} with that digest",
        f" 5. scale {args.service}-{label_new} to the live desired count on the new revision; wait for "
        f"rolloutState COMPLETED and healthy targets (timeout {args.rollout_timeout_s:.0f} s)",
        f" 6. tests against {label_new}: {args.green_test_url or '(no --green-test-url: skipped)'}",
    ]
    n = 7
    for step in steps:
        hold = (
            f", analyse {step.hold_s / 60:g} min (5xx rate and p99 vs {label_old}; no data fails)"
            if step.hold_s
            else ""
        )
        lines.append(f" {n}. weights: {label_new} {step.green_weight}% / {label_old} {100 - step.green_weight}%{hold}")
        n += 1
    lines.append(
        f" {n}. bake {args.bake_minutes:g} min with analysis; then scale {args.service}-{label_old} "
        "to 0 (revision kept for rollback)"
    )
    n += 1
    post = []
    if args.cloudfront_distribution_id and args.invalidate:
        post.append(f"invalidate {len(args.invalidate)} path(s) on {args.cloudfront_distribution_id}")
    if args.warm_cache:
        post.append("warm the Redis top-N cache with recommendation-service's warm-cache task")
    if args.grafana_url:
        post.append(f"upsert dashboards and annotate on {args.grafana_url}")
    if post:
        lines.append(f" {n}. post-deploy: " + "; ".join(post))
    lines.append(
        f" on any failure, SIGINT or SIGTERM: {label_old} made ready, all traffic to it, "
        f"{args.service}-{label_new} scaled to 0, exit 1 with the reason"
    )
    plan = {
        "dry_run": True,
        "service": args.service,
        "live_color": live,
        "live_color_assumed": None if known else old,
        "note": note,
        "steps": [s.as_dict() for s in steps],
        "plan": lines,
    }
    return lines, plan


def _post(args: argparse.Namespace) -> Any:
    from netflix_clone.deploy.adapters.notify import GrafanaClient
    from netflix_clone.deploy.rollout.post_deploy import PostDeploy

    grafana = None
    if args.grafana_url:
        if not args.grafana_api_key:
            raise Rejected("--grafana-url needs GRAFANA_API_KEY")
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


def cmd_production(args: argparse.Namespace, redactor: Redactor) -> int:
    from netflix_clone.deploy.rollout.blue_green import production
    from netflix_clone.deploy.rollout.post_deploy import post_deploy

    if not args.image and not args.resume:
        raise Rejected("--image is required (except with --resume, which deploys the recorded image)")
    if args.image and args.resume:
        raise Rejected("--resume deploys the image the record holds: drop --image")
    if args.dry_run:
        lines, plan = _plan(args)
        print(json.dumps(redactor.redact_obj(plan), indent=2) if args.json else redactor.redact("\n".join(lines)))
        return EXIT_OK
    target, settings, post = _target(args), _settings(args), _post(args)
    ctx = _context(args, redactor)
    try:
        state = production(ctx, target, args.image or "", settings, resume=args.resume)
    except DeployFailed as exc:
        return _failed(args, redactor, exc, "production deploy")
    except LockLost:
        return _lock_lost(args, redactor, ctx)
    # The deploy succeeded: a signal from here on is noted, never turned into a failure.
    with ctx.shielded():
        results = post_deploy(ctx, target, state, post)
        ok = all(result.get("ok") for result in results.values())
        return _finish(
            args,
            redactor,
            state,
            "succeeded" if ok else "succeeded; post-deploy step failed",
            EXIT_OK if ok else EXIT_POST_DEPLOY,
            results,
        )


def cmd_rollback(args: argparse.Namespace, redactor: Redactor) -> int:
    from netflix_clone.deploy.rollout.rollback import rollback

    target = _target(args)
    ctx = _context(args, redactor)
    try:
        result = rollback(ctx, target, reason=args.reason)
    except DeployFailed as exc:
        return _failed(args, redactor, exc, "rollback")
    except LockLost:
        return _lock_lost(args, redactor, ctx)
    if not result.changed:
        _emit(
            args,
            redactor,
            {
                "outcome": "nothing to roll back",
                "exit_code": EXIT_OK,
                "reason": result.message,
                "state": result.state.as_dict(),
            },
            f"deploy: {result.message}",
        )
        return EXIT_OK
    return _finish(args, redactor, result.state, "rolled back", EXIT_OK)


def cmd_init(args: argparse.Namespace, redactor: Redactor) -> int:
    """Create the lock table (once per account and region; idempotent)."""
    lock = _lock(args, _session(args), ensure=False)
    existed = lock.table_exists()
    if not existed:
        lock.ensure_table()
    _emit(
        args,
        redactor,
        {"outcome": "exists" if existed else "created", "exit_code": 0, "table": args.lock_table},
        f"deploy: lock table {args.lock_table} {'already exists' if existed else 'created'}",
    )
    return EXIT_OK


def cmd_status(args: argparse.Namespace, redactor: Redactor) -> int:
    import time

    lock = _lock(args, _session(args))
    key = lock.key(args.environment, args.service)
    try:
        state = lock.load(key)
        holder = lock.holder(key)
    except Exception as exc:  # pylint: disable=broad-except  # classified into one line
        from netflix_clone.deploy.adapters.aws_gateway import describe_error

        error = describe_error(exc, f"DynamoDB {args.lock_table}")
        raise (Rejected(str(error)) if error.user_error else error) from None
    now = time.time()
    data = {
        "key": key,
        "state": state.as_dict() if state else None,
        "lock": holder.as_dict(now) if holder else None,
    }
    if args.json:
        print(json.dumps(redactor.redact_obj(data), indent=2, default=str))
        return EXIT_OK
    if state is None:
        print(f"no deploy recorded for {key}")
    else:
        good = f"; known good: {state.known_good.describe()}" if state.known_good else ""
        print(
            redactor.redact(
                f"{key}: {state.kind} {state.deploy_id} {state.phase} ({state.image}){good}"
                f"{' - ' + state.reason if state.reason else ''}"
            )
        )
    if holder:
        left = holder.expires_at - now
        print(
            f"locked by {holder.owner} (token {holder.token}), "
            + (f"expires in {left:.0f} s" if left >= 0 else f"EXPIRED {-left:.0f} s ago")
        )
    return EXIT_OK


def cmd_break_lock(args: argparse.Namespace, redactor: Redactor) -> int:
    import time

    lock = _lock(args, _session(args))
    key = lock.key(args.environment, args.service)
    holder = lock.holder(key)
    if holder is None:
        _emit(
            args,
            redactor,
            {"outcome": "not locked", "exit_code": 0, "key": key},
            f"deploy: {key} is not locked",
        )
        return EXIT_OK
    if holder.token != args.token:
        raise Rejected(
            f"{key} is locked by {holder.owner} with token {holder.token}, not {args.token}: "
            "check `deploy status` again (a newer run may hold it)"
        )
    left = holder.expires_at - time.time()
    if left > 0 and not args.force:
        raise Rejected(
            f"{key}'s lease is live for another {left:.0f} s ({holder.owner}): that run may still be "
            "working. Make sure it is dead (or wait for the lease to expire), then add --force"
        )
    broken = lock.break_lock(key, args.token)
    if not broken:
        raise Rejected(f"the lock on {key} changed meanwhile; nothing removed")
    _emit(
        args,
        redactor,
        {"outcome": "lock removed", "exit_code": 0, "key": key, "owner": holder.owner},
        f"deploy: removed {holder.owner}'s lock on {key}; a killed deploy's record is still there: "
        "run `deploy rollback` or `deploy production --resume`",
    )
    return EXIT_OK


# The parser ------------------------------------------------------------------------------------------
def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--service", required=True, choices=SERVICES)
    p.add_argument("--cluster", default=None, help="ECS cluster (default netflix-clone-<environment>)")
    p.add_argument(
        "--region",
        default=_env("AWS_REGION") or _env("AWS_DEFAULT_REGION"),
        help="AWS region (AWS_REGION, then AWS_DEFAULT_REGION)",
    )
    p.add_argument("--container", default=None, help="container to update (default: the first)")
    p.add_argument(
        "--lock-table",
        default=_env("DEPLOY_LOCK_TABLE") or "netflix-clone-deploys",
        help="DynamoDB table for the lock and deploy records (DEPLOY_LOCK_TABLE)",
    )
    p.add_argument(
        "--lock-ttl-s",
        type=_positive(float),
        default=600.0,
        help="lease length; renewed every third of it while the run lives, and at least three times "
        "the longest AWS call (default 600)",
    )
    p.add_argument("--owner", default=None, help="lock owner label (default: the CI run and job)")
    p.add_argument("--slack-webhook", default=_env("SLACK_WEBHOOK"), help="(SLACK_WEBHOOK)")
    p.add_argument("--report-dir", default="deploy-reports")
    p.add_argument("--rollout-timeout-s", type=_positive(float), default=900.0)
    p.add_argument("--poll-s", type=_positive(float), default=15.0)
    p.add_argument(
        "--recovery-timeout-s",
        type=_positive(float),
        default=600.0,
        help="how long each rollback step retries AWS errors before giving up (exit 5)",
    )
    p.add_argument("--aws-timeout-s", type=_positive(float), default=10.0, help="per-call read timeout")
    p.add_argument("--aws-max-attempts", type=_positive(int), default=4, help="per call, with backoff")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON (for CI)")


def _production_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--listener-arn", default=_env("LB_LISTENER_ARN"), help="(LB_LISTENER_ARN)")
    p.add_argument("--blue-target-group", default=_env("BLUE_TARGET_GROUP_ARN"))
    p.add_argument("--green-target-group", default=_env("GREEN_TARGET_GROUP_ARN"))
    p.add_argument(
        "--rule-arn",
        action="append",
        default=[_env("LB_RULE_ARN")] if _env("LB_RULE_ARN") else None,
        help="listener rule(s) forwarding to the service (repeatable or comma-separated; LB_RULE_ARN). "
        "With rules, the listener's default action is never touched",
    )
    p.add_argument("--min-requests", type=_positive(int), default=100, help="per colour and window")
    p.add_argument(
        "--min-latency-samples",
        type=_positive(int),
        default=3,
        help="p99 periods a window needs before its latency counts as evidence",
    )
    p.add_argument("--max-error-rate", type=_fraction, default=0.01)
    p.add_argument("--latency-tolerance", type=_non_negative, default=0.20)
    p.add_argument("--max-p99-ms", type=_positive(float), default=None)
    p.add_argument("--metric-period-s", type=_positive(int), default=60)
    p.add_argument("--strategy", choices=("canary", "linear", "all-at-once", "custom"), default="canary")
    p.add_argument(
        "--steps",
        type=_steps_arg,
        help="custom: rising percentages ending at 100, e.g. 5,25,50,100",
    )
    p.add_argument(
        "--step-minutes",
        type=_non_negative,
        default=3.0,
        help="linear/custom: analysis window per step (enough for --min-latency-samples periods)",
    )
    p.add_argument("--canary-percent", type=_percent, default=10)
    p.add_argument("--canary-minutes", type=_non_negative, default=5.0)
    p.add_argument("--linear-percent", type=_percent, default=10)
    p.add_argument("--bake-minutes", type=_non_negative, default=5.0)
    p.add_argument(
        "--baseline-minutes",
        type=_non_negative,
        default=10.0,
        help="blue's history read before the first shift, the baseline once blue serves nothing",
    )
    p.add_argument("--green-test-url", default=_env("GREEN_TEST_URL"))
    p.add_argument("--green-check", action="append")
    p.add_argument("--nodata-policy", choices=("extend", "fail"), default="extend")
    p.add_argument("--marginal-policy", choices=("extend", "fail", "continue"), default="extend")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="deploy", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
        default=(os.environ.get("NFC_LOG_LEVEL") or "INFO").upper(),
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("staging", help="deploy to staging")
    _common(p)
    p.add_argument("--image", required=True)
    p.add_argument("--target-group", default=_env("STAGING_TARGET_GROUP_ARN"))
    p.add_argument("--smoke-url", default=_env("STAGING_URL"))
    p.add_argument("--smoke-check", action="append", help='e.g. "GET /healthz 200" (repeatable)')
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(func=cmd_staging, signals=True)

    p = sub.add_parser("production", help="blue-green deploy to production")
    _common(p)
    _production_flags(p)
    p.add_argument("--image", help="registry/repository:tag to deploy (not with --resume: the record has it)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted deploy from its record")
    p.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    p.add_argument("--cloudfront-distribution-id", default=_env("CLOUDFRONT_DISTRIBUTION_ID"))
    p.add_argument("--invalidate", action="append", help="CloudFront path to invalidate (repeatable)")
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
    p.set_defaults(func=cmd_production, signals=True)

    p = sub.add_parser("rollback", help="back to the known-good revision of the last deploy")
    _common(p)
    _production_flags(p)
    p.add_argument("--reason", default="manual rollback")
    p.set_defaults(func=cmd_rollback, signals=True)

    for name, helptext, func in (
        ("status", "the last recorded deploy and the lock", cmd_status),
        ("break-lock", "remove a dead run's lock (by the token `status` shows)", cmd_break_lock),
        ("init", "create the DynamoDB lock table (once per account and region)", cmd_init),
    ):
        p = sub.add_parser(name, help=helptext)
        # The table is shared by every service, so `init` needs none.
        p.add_argument("--service", required=name != "init", choices=SERVICES)
        p.add_argument("--environment", choices=("staging", "production"), default="production")
        p.add_argument("--lock-table", default=_env("DEPLOY_LOCK_TABLE") or "netflix-clone-deploys")
        p.add_argument("--region", default=_env("AWS_REGION") or _env("AWS_DEFAULT_REGION"))
        p.add_argument("--aws-timeout-s", type=_positive(float), default=10.0)
        p.add_argument("--aws-max-attempts", type=_positive(int), default=4)
        p.add_argument("--json", action="store_true")
        if name == "break-lock":
            p.add_argument("--token", required=True, help="the lease token shown by `deploy status`")
            p.add_argument(
                "--force",
                action="store_true",
                help="break a lease that has not expired yet (make sure its run is dead first)",
            )
        p.set_defaults(func=func, signals=False)
    return parser


class _Signals:
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


class _Parser(argparse.ArgumentParser):
    """Usage errors are one line (exit 2), with secrets from the environment redacted."""

    def error(self, message: str) -> Any:
        text = Redactor.from_environment().redact(message)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {text} (see {self.prog} --help)\n")


_SIGNALS = _Signals()


def main(argv: Optional[list[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):  # NFC_LOG_LEVEL
        parser.error("NFC_LOG_LEVEL / --log-level must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    configure_logging("deploy", args.log_level)
    # botocore narrates endpoint discovery at INFO, and httpx logs every request URL - which for
    # Slack is the secret webhook itself. A deploy log is for the deploy.
    for noisy in ("botocore", "boto3", "urllib3", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    redactor = Redactor.from_environment()
    for secret in (getattr(args, "slack_webhook", None), getattr(args, "grafana_api_key", None)):
        redactor.add(secret)
    redactor.install()
    if args.signals:
        _SIGNALS.install()
    try:
        _validate(args)
        return int(args.func(args, redactor))
    except DeployError as exc:
        state = getattr(exc, "state", None)
        _emit(
            args,
            redactor,
            {
                "outcome": type(exc).__name__,
                "exit_code": exc.exit_code,
                "reason": str(exc),
                "state": state.as_dict() if state is not None else None,
            },
            f"deploy: {'rejected: ' if exc.exit_code == EXIT_USAGE else ''}{exc}",
        )
        return exc.exit_code
    except Interrupted as exc:
        _emit(args, redactor, {"outcome": "interrupted", "exit_code": EXIT_FAILED, "reason": str(exc)},
              f"deploy: {exc} before anything was changed")  # fmt: skip
        return EXIT_FAILED
    except Exception as exc:  # pylint: disable=broad-except  # classified: AWS errors, bugs
        from netflix_clone.deploy.adapters.aws_gateway import GatewayError, describe_error

        error = exc if isinstance(exc, GatewayError) else None
        if error is None and type(exc).__module__.startswith("botocore"):
            error = describe_error(exc)
        if error is not None:
            code = EXIT_USAGE if error.user_error else EXIT_FAILED
            _emit(
                args,
                redactor,
                {
                    "outcome": "rejected" if code == EXIT_USAGE else "failed",
                    "exit_code": code,
                    "reason": f"{error}; nothing was changed",
                },
                f"deploy: {'rejected' if code == EXIT_USAGE else 'failed'}: {error}; nothing was changed",
            )
            return code
        log.debug("unexpected error", exc_info=True)
        _emit(args, redactor, {"outcome": "error", "exit_code": EXIT_FAILED, "reason": repr(exc)},
              f"deploy: unexpected {type(exc).__name__}: {exc} (--log-level DEBUG shows the traceback)")  # fmt: skip
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
