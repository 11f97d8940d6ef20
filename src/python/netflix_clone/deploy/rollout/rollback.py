"""Returning a service to its known-good revision: after a failed or interrupted deploy, and on request.

:func:`restore` is the one recovery procedure (see ``domain/state.py``): known-good colour up and
healthy first, then all traffic to it, then the other colour to 0. Each step retries AWS errors until
the recovery deadline; signals are deferred while it runs. If a step still fails, the record stays
``rolling_back`` with ``rollback_error`` saying where it stopped, and :class:`DeployFailed` carries
``restored=False`` (exit 5): ``deploy rollback`` runs the same procedure again from there.

:func:`rollback` is the operator's command. What it does depends only on the last record:

* none: nothing to roll back (rejected, exit 2) - colours are never flipped on a guess;
* an interrupted deploy or rollback: finish undoing it (back to its known-good revision);
* a succeeded deploy: a new rollback operation to the revision that was live before it;
* already rolled back: nothing to do - unless the service has drifted from that record (traffic
  or tasks changed by hand), in which case it is repaired to the recorded known-good revision.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Optional

from netflix_clone.deploy.adapters.aws_gateway import GatewayError, Route
from netflix_clone.deploy.adapters.lock import Lease
from netflix_clone.deploy.domain.state import DeployState, Phase, Revision, other_color, recovery_plan
from netflix_clone.deploy.errors import DeployFailed, LockLost, Rejected
from netflix_clone.deploy.rollout.context import RolloutContext

__all__ = ["ProductionTarget", "RollbackResult", "restore", "restore_staging", "rollback"]


@dataclass(frozen=True)
class ProductionTarget:
    cluster: str
    service: str  # ECS services are "<service>-blue" and "<service>-green"
    listener_arn: str
    blue_target_group: str
    green_target_group: str
    rule_arns: tuple[str, ...] = ()
    container: Optional[str] = None

    @property
    def route(self) -> Route:
        return Route(self.listener_arn, self.rule_arns)

    def target_group(self, color: str) -> str:
        return self.blue_target_group if color == "blue" else self.green_target_group

    def ecs_service(self, color: str) -> str:
        return f"{self.service}-{color}"

    def color_of(self, target_group: str) -> Optional[str]:
        if target_group == self.blue_target_group:
            return "blue"
        if target_group == self.green_target_group:
            return "green"
        return None


@dataclass
class RollbackResult:
    state: DeployState
    changed: bool  # False: nothing needed doing
    message: str


def restore(
    ctx: RolloutContext,
    lease: Lease,
    target: ProductionTarget,
    state: DeployState,
    reason: str,
) -> None:
    """Undo ``state`` (see the module docstring). Raises DeployFailed(restored=False) if it cannot."""
    with ctx.shielded():
        _restore(ctx, lease, target, state, reason)


def _best_effort_record(
    ctx: RolloutContext, lease: Lease, state: DeployState, phase: Optional[Phase], message: str
) -> Optional[str]:
    """Record, but never let a failed write stop a rollback (traffic first; the record can follow).

    A failed write leaves the local state at the phase last *saved*, so the report this run writes
    says what the record says; an earlier failed ``rolling_back`` is recorded before ``rolled_back``.
    """
    try:
        if phase is None:
            ctx.note(lease, state, message)
        else:
            if phase == Phase.ROLLED_BACK and state.phase != Phase.ROLLING_BACK:
                ctx.record(lease, state, Phase.ROLLING_BACK, state.reason or message)
            ctx.record(lease, state, phase, message)
    except LockLost:
        raise
    except Exception as exc:  # pylint: disable=broad-except  # DynamoDB down: keep restoring
        ctx.progress(f"  could not save the deploy record ({type(exc).__name__}: {exc}); continuing")
        return f"{type(exc).__name__}: {exc}"
    return None


def route_of(target: ProductionTarget) -> dict[str, object]:
    return {
        "listener_arn": target.listener_arn,
        "rule_arns": list(target.rule_arns),
        "blue_target_group": target.blue_target_group,
        "green_target_group": target.green_target_group,
    }


def check_wiring(ctx: RolloutContext, target: ProductionTarget, state: Optional[DeployState] = None) -> dict[str, int]:
    """Refuse (nothing changed) unless the route and both ECS services belong to this service - and,
    given a record, unless it is the wiring that record was made with."""
    if state is not None and state.route is not None and state.route != route_of(target):
        given = route_of(target)
        differ = ", ".join(
            f"{k} {state.route.get(k)} (given {given[k]})" for k in sorted(given) if state.route.get(k) != given[k]
        )
        raise Rejected(
            f"{state.kind} {state.deploy_id} was recorded with other wiring: {differ}. "
            "Use the record's settings (`deploy status --json` shows them)"
        )
    try:
        weights = ctx.gateway.route_weights(target.route)
    except GatewayError as exc:
        if "disagree" not in str(exc):
            raise
        weights = {}  # rules left disagreeing by a killed run: the restore rewrites them
    foreign = [tg for tg in weights if target.color_of(tg) is None]
    if foreign:
        raise Rejected(
            f"{target.route.describe()} forwards to target groups that are not {target.service}'s "
            f"blue/green pair: {', '.join(foreign)}. Each service needs its own listener or rule "
            "(NFC_DEPLOY_LB_LISTENER_ARN / NFC_DEPLOY_LB_RULE_ARN) and target groups."
        )
    for color in ("blue", "green"):
        name = target.ecs_service(color)
        status = ctx.gateway.service_status(target.cluster, name)
        if not status.exists:
            raise Rejected(f"ECS service {name} does not exist in cluster {target.cluster}")
        if target.target_group(color) not in status.target_groups:
            attached = ", ".join(status.target_groups) or "no target group"
            raise Rejected(
                f"ECS service {name} registers its tasks in {attached}, not in "
                f"{target.target_group(color)}: check {target.service}'s "
                f"NFC_DEPLOY_{color.upper()}_TARGET_GROUP_ARN"
            )
    return weights


def _restore(
    ctx: RolloutContext,
    lease: Lease,
    target: ProductionTarget,
    state: DeployState,
    reason: str,
) -> None:
    plan = recovery_plan(state)
    good = plan.target
    if state.reason is None or state.phase != Phase.ROLLING_BACK:
        state.reason = reason
    unsaved: list[str] = []
    if state.phase != Phase.ROLLING_BACK:
        problem = _best_effort_record(ctx, lease, state, Phase.ROLLING_BACK, f"{reason}; back to {good.describe()}")
    else:
        problem = _best_effort_record(
            ctx, lease, state, None, f"rollback continued by {ctx.owner}: back to {good.describe()}"
        )
    if problem:
        unsaved.append(problem)
    deadline = ctx.clock.now() + ctx.waits.recovery_timeout_s
    good_service = target.ecs_service(good.color)
    good_tg = target.target_group(good.color)
    step = "start"
    try:
        step = f"bring {good.describe()} up"
        if plan.scale_up_first:
            ctx.persist(
                step,
                lambda: ctx.make_ready(target.cluster, good_service, good, good_tg),
                deadline,
            )
        else:
            # Never scaled down in this deploy: if AWS cannot even say so, traffic goes back
            # anyway - the known-good colour is the one that was serving all along.
            try:
                ready, detail = ctx.is_ready(target.cluster, good_service, good, good_tg)
            except GatewayError as exc:
                ready, detail = True, f"not checked ({exc})"
            if not ready:
                ctx.persist(
                    step,
                    lambda: ctx.make_ready(target.cluster, good_service, good, good_tg),
                    deadline,
                )
        step = f"move all traffic to {good.color}"
        weights = {good_tg: 100}
        if plan.abandon_color:
            weights[target.target_group(plan.abandon_color)] = 0
        ctx.persist(step, lambda: ctx.aws.set_weights(target.route, weights), deadline)
        state.green_weight = 0 if state.kind == "deploy" else 100
        if plan.abandon_color:
            step = f"scale {plan.abandon_color} to 0"
            abandon = target.ecs_service(plan.abandon_color)
            ctx.persist(
                step,
                lambda: ctx.aws.update_service(target.cluster, abandon, None, 0),
                deadline,
            )
    except (GatewayError, DeployFailed) as exc:
        detail = exc.reason if isinstance(exc, DeployFailed) else str(exc)
        state.rollback_error = f"rollback stopped at '{step}': {detail}"
        _best_effort_record(ctx, lease, state, None, state.rollback_error)
        ctx.notify(
            f":sos: rollback of {state.service} did not complete: {state.rollback_error}. "
            "Run `deploy rollback` to finish it.",
            "danger",
        )
        raise DeployFailed(f"{state.reason}; {state.rollback_error}", state, restored=False) from None
    state.rollback_error = None
    state.finished_at = ctx.clock.now()
    problem = _best_effort_record(
        ctx, lease, state, Phase.ROLLED_BACK, f"{good.color} serves all traffic ({good.describe()})"
    )
    if problem:
        unsaved.append(problem)
    if unsaved:
        state.rollback_error = (
            f"traffic is back on {good.describe()}, but the deploy record could not be saved "
            f"({unsaved[-1]}); run `deploy rollback` to record it"
        )
        ctx.notify(f":warning: {state.service}: {state.rollback_error}", "warning")
        raise DeployFailed(f"{state.reason}; {state.rollback_error}", state, restored=False)
    ctx.notify(
        f":rotating_light: {state.environment} {state.kind} of {state.service} rolled back: {state.reason}",
        "danger" if state.kind == "deploy" else "warning",
        {"image": state.image, "live": good.describe()},
    )


def restore_staging(
    ctx: RolloutContext,
    lease: Lease,
    cluster: str,
    service: str,
    target_group: Optional[str],
    state: DeployState,
    reason: str,
) -> None:
    """Staging has one service: put its known-good revision back and wait until it is healthy."""
    good = state.known_good
    assert good is not None  # nosec B101 - set before the first change
    if state.reason is None or state.phase != Phase.ROLLING_BACK:
        state.reason = reason
    if state.phase != Phase.ROLLING_BACK:
        ctx.record(lease, state, Phase.ROLLING_BACK, f"{reason}; back to {good.task_definition}")
    deadline = ctx.clock.now() + ctx.waits.recovery_timeout_s
    with ctx.shielded():
        try:
            ctx.persist(
                f"put {good.task_definition} back",
                lambda: ctx.aws.update_service(cluster, service, good.task_definition, None),
                deadline,
            )
            ctx.wait_for_rollout(cluster, service, good.task_definition, target_group)
        except (GatewayError, DeployFailed) as exc:
            state.rollback_error = f"rollback stopped: {exc}"
            try:
                ctx.note(lease, state, state.rollback_error)
            except Exception as note_error:  # pylint: disable=broad-except  # the report says it
                ctx.progress(f"  could not save the deploy record: {note_error}")
            raise DeployFailed(f"{state.reason}; {state.rollback_error}", state, restored=False) from None
        state.finished_at = ctx.clock.now()
        ctx.record(lease, state, Phase.ROLLED_BACK, f"{service} runs {good.task_definition}")
    ctx.notify(
        f":x: staging deploy of {service} rolled back: {state.reason}",
        "danger",
        {"image": state.image},
    )


def _in_sync(ctx: RolloutContext, target: ProductionTarget, good: Revision) -> tuple[bool, str]:
    try:
        weights = ctx.gateway.route_weights(target.route)
    except GatewayError as exc:
        return False, str(exc)
    live = {target.color_of(tg): w for tg, w in weights.items() if w > 0}
    if live != {good.color: 100}:
        return False, f"traffic is {weights}, the record says {good.color} takes 100%"
    ready, detail = ctx.is_ready(target.cluster, target.ecs_service(good.color), good, target.target_group(good.color))
    return ready, detail


def rollback(ctx: RolloutContext, target: ProductionTarget, reason: str = "manual rollback") -> RollbackResult:
    """The operator's rollback (see the module docstring)."""
    from netflix_clone.deploy.adapters.lock import DeployLock

    key = DeployLock.key("production", target.service)
    with ctx.holding(key) as lease:
        last = ctx.lock.load(key)
        check_wiring(ctx, target, last)
        if last is None:
            raise Rejected(
                f"nothing to roll back: no deploy of {target.service} is recorded in production "
                f"(table {ctx.lock.table}); colours are not flipped on a guess"
            )
        if last.environment != "production" or last.known_good is None:
            raise Rejected(f"deploy {last.deploy_id} recorded no known-good revision to return to")
        if not last.terminal:
            restore(
                ctx,
                lease,
                target,
                last,
                reason if last.phase != Phase.ROLLING_BACK else last.reason or reason,
            )
            return RollbackResult(last, True, f"interrupted {last.kind} {last.deploy_id} undone")
        if last.phase == Phase.SUCCEEDED:
            back_to = last.known_good
            state = DeployState(
                uuid.uuid4().hex[:12],
                target.service,
                "production",
                f"rollback of {last.deploy_id}",
                kind="rollback",
                owner=ctx.owner,
                known_good=back_to,
                live_color=last.target_color,
                target_color=back_to.color,
                previous_task_definition=last.new_task_definition,
                new_task_definition=back_to.task_definition,
                desired_count=back_to.desired,
                started_at=ctx.clock.now(),
                route=route_of(target),
            )
            # From its first record on, a rollback is finished, never cut in half by a signal.
            with ctx.shielded():
                ctx.record(
                    lease,
                    state,
                    Phase.STARTED,
                    f"{reason}: {last.target_color} ({last.new_task_definition}) -> {back_to.describe()}",
                )
                restore(ctx, lease, target, state, reason)
            return RollbackResult(state, True, f"{back_to.color} is live again on {back_to.task_definition}")
        good = last.known_good
        in_sync, detail = _in_sync(ctx, target, good)
        if in_sync:
            return RollbackResult(
                last,
                False,
                f"nothing to roll back: {last.kind} {last.deploy_id} already ended rolled back; "
                f"{good.describe()} serves all traffic",
            )
        state = DeployState(
            uuid.uuid4().hex[:12],
            target.service,
            "production",
            f"repair to the record of {last.deploy_id}",
            kind="rollback",
            owner=ctx.owner,
            known_good=good,
            live_color=other_color(good.color),
            target_color=good.color,
            new_task_definition=good.task_definition,
            desired_count=good.desired,
            started_at=ctx.clock.now(),
            route=route_of(target),
        )
        with ctx.shielded():
            ctx.record(lease, state, Phase.STARTED, f"{reason}: service drifted from the record: {detail}")
            restore(ctx, lease, target, state, f"{reason} (repair: {detail})")
        return RollbackResult(state, True, f"repaired: {good.describe()} serves all traffic")
