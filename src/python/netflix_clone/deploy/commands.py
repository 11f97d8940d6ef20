"""The deploy commands (one function each) and how their outcomes are printed and reported.

Each returns the exit code of the platform's table; expected failures raise the errors of
``netflix_clone.deploy.errors``, which ``cli.main`` prints as one line.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, Optional

from netflix_clone.deploy.arguments import plan_steps_of
from netflix_clone.deploy.errors import (
    EXIT_FAILED,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_POST_DEPLOY,
    EXIT_ROLLBACK_INCOMPLETE,
    DeployFailed,
    LockLost,
    Rejected,
)
from netflix_clone.deploy.wiring import (
    aws_session,
    deploy_lock,
    post_deploy_plan,
    production_settings,
    production_target,
    rollout_context,
)
from netflix_clone.platform.redaction import Redactor

__all__ = ["cmd_break_lock", "cmd_init", "cmd_production", "cmd_rollback", "cmd_staging", "cmd_status", "emit"]

log = logging.getLogger("netflix_clone.deploy")


def emit(args: argparse.Namespace, redactor: Redactor, payload: dict[str, Any], line: str) -> None:
    """One line for people on stderr, always; the same outcome as JSON on stdout with --json."""
    print(redactor.redact(line), file=sys.stderr)
    if args.json:
        print(json.dumps(redactor.redact_obj(payload), indent=2, default=str))


def finish(
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


def failed(args: argparse.Namespace, redactor: Redactor, exc: DeployFailed, what: str) -> int:
    if exc.state is None:
        emit(
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
        return finish(args, redactor, exc.state, "rolled back", EXIT_FAILED)
    return finish(
        args,
        redactor,
        exc.state,
        "failed; rollback incomplete",
        EXIT_ROLLBACK_INCOMPLETE,
        next_step=f"deploy rollback --service {args.service} (same settings) finishes the rollback",
    )


def lock_lost(args: argparse.Namespace, redactor: Redactor, ctx: Any) -> int:
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
    return finish(args, redactor, state, "stopped: lost the deploy lock", EXIT_LOCKED, next_step=next_step)


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
    ctx = rollout_context(args, redactor)
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
        return failed(args, redactor, exc, "staging deploy")
    except LockLost:
        return lock_lost(args, redactor, ctx)
    return finish(args, redactor, state, "succeeded", EXIT_OK)


def dry_run_plan(args: argparse.Namespace) -> tuple[list[str], dict[str, Any]]:
    """The plan for --dry-run: read-only lookups where AWS answers, labelled guesses where not."""
    from netflix_clone.deploy.adapters.aws_gateway import Boto3Gateway
    from netflix_clone.deploy.rollout.blue_green import live_color_of

    steps = plan_steps_of(args)
    target = production_target(args)
    note = None
    try:
        gateway = Boto3Gateway(session=aws_session(args), max_attempts=2, read_timeout_s=10)
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


def cmd_production(args: argparse.Namespace, redactor: Redactor) -> int:
    from netflix_clone.deploy.rollout.blue_green import production
    from netflix_clone.deploy.rollout.post_deploy import post_deploy

    if not args.image and not args.resume:
        raise Rejected("--image is required (except with --resume, which deploys the recorded image)")
    if args.image and args.resume:
        raise Rejected("--resume deploys the image the record holds: drop --image")
    if args.dry_run:
        lines, plan = dry_run_plan(args)
        print(json.dumps(redactor.redact_obj(plan), indent=2) if args.json else redactor.redact("\n".join(lines)))
        return EXIT_OK
    target, settings, post = production_target(args), production_settings(args), post_deploy_plan(args)
    ctx = rollout_context(args, redactor)
    try:
        state = production(ctx, target, args.image or "", settings, resume=args.resume)
    except DeployFailed as exc:
        return failed(args, redactor, exc, "production deploy")
    except LockLost:
        return lock_lost(args, redactor, ctx)
    # The deploy succeeded: a signal from here on is noted, never turned into a failure.
    with ctx.shielded():
        results = post_deploy(ctx, target, state, post)
        ok = all(result.get("ok") for result in results.values())
        return finish(
            args,
            redactor,
            state,
            "succeeded" if ok else "succeeded; post-deploy step failed",
            EXIT_OK if ok else EXIT_POST_DEPLOY,
            results,
        )


def cmd_rollback(args: argparse.Namespace, redactor: Redactor) -> int:
    from netflix_clone.deploy.rollout.rollback import rollback

    target = production_target(args)
    ctx = rollout_context(args, redactor)
    try:
        result = rollback(ctx, target, reason=args.reason)
    except DeployFailed as exc:
        return failed(args, redactor, exc, "rollback")
    except LockLost:
        return lock_lost(args, redactor, ctx)
    if not result.changed:
        emit(
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
    return finish(args, redactor, result.state, "rolled back", EXIT_OK)


def cmd_init(args: argparse.Namespace, redactor: Redactor) -> int:
    """Create the lock table (once per account and region; idempotent)."""
    lock = deploy_lock(args, aws_session(args), ensure=False)
    existed = lock.table_exists()
    if not existed:
        lock.ensure_table()
    emit(
        args,
        redactor,
        {"outcome": "exists" if existed else "created", "exit_code": 0, "table": args.lock_table},
        f"deploy: lock table {args.lock_table} {'already exists' if existed else 'created'}",
    )
    return EXIT_OK


def cmd_status(args: argparse.Namespace, redactor: Redactor) -> int:
    import time

    lock = deploy_lock(args, aws_session(args))
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

    lock = deploy_lock(args, aws_session(args))
    key = lock.key(args.environment, args.service)
    holder = lock.holder(key)
    if holder is None:
        emit(
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
    emit(
        args,
        redactor,
        {"outcome": "lock removed", "exit_code": 0, "key": key, "owner": holder.owner},
        f"deploy: removed {holder.owner}'s lock on {key}; a killed deploy's record is still there: "
        "run `deploy rollback` or `deploy production --resume`",
    )
    return EXIT_OK
