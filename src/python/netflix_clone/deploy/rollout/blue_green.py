"""Blue-green production deploys behind an ALB: green up and tested, traffic shifted in analysed steps,
baked, blue retired - and on any failure, interruption or lost lock, a known end state.

How each way out ends:

* a failed check or analysis, an AWS error, SIGINT or SIGTERM: :func:`rollback.restore` returns the
  known-good colour (recorded before the first change), the record says ``rolled_back``, the report
  is written, Slack is told, the lock is released. Exit 1 (5 if the rollback itself could not finish).
* the lock lost (lease expired while paused or cut off from DynamoDB): stop at once and change
  nothing more - another run may be acting. Exit 3; the report says so.
* SIGKILL or a vanished runner: nothing runs. The record holds the phase; ``deploy rollback`` undoes
  it and ``deploy production --resume`` finishes it.

Before the first change the deploy checks its wiring, so one service can never move another's
traffic: the route forwards only to this service's two target groups, and each colour's ECS service
registers its tasks in that colour's target group.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Optional

from netflix_clone.deploy.adapters.aws_gateway import GatewayError
from netflix_clone.deploy.adapters.http_checks import run_checks
from netflix_clone.deploy.adapters.lock import DeployLock, Lease
from netflix_clone.deploy.domain.analysis import AnalysisConfig, Verdict, WindowMetrics, compare, pooled_baseline
from netflix_clone.deploy.domain.state import DeployState, Phase, Revision, other_color
from netflix_clone.deploy.domain.strategies import Step
from netflix_clone.deploy.errors import DeployFailed, Interrupted, LockLost, Rejected
from netflix_clone.deploy.rollout.context import RolloutContext
from netflix_clone.deploy.rollout.rollback import ProductionTarget, check_wiring, restore, route_of

__all__ = ["ProductionSettings", "live_color_of", "production"]


@dataclass(frozen=True)
class ProductionSettings:
    steps: tuple[Step, ...]
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    metric_period_s: int = 60
    bake_s: float = 300.0
    baseline_s: float = 600.0  # blue's history read before the first shift, as a baseline
    green_test_url: Optional[str] = None
    green_checks: tuple[str, ...] = ("GET /healthz 200", "GET /readyz 200")
    nodata_policy: str = "extend"  # extend (up to max_extensions windows, then fail) | fail
    marginal_policy: str = "extend"  # extend (one more window; marginal again fails) | fail | continue
    max_extensions: int = 2


def live_color_of(target: ProductionTarget, weights: dict[str, int]) -> Optional[str]:
    """The colour taking all traffic, or None when the split is not 100/0 (or names other groups)."""
    live = {target.color_of(tg): w for tg, w in weights.items() if w > 0}
    if len(live) == 1 and None not in live and sum(live.values()) > 0:
        color = next(iter(live))
        return color
    return None


def _new_state(
    ctx: RolloutContext,
    target: ProductionTarget,
    image: str,
    settings: ProductionSettings,
    last: Optional[DeployState],
) -> DeployState:
    weights = check_wiring(ctx, target, last)
    live = live_color_of(target, weights)
    if live is None:
        raise Rejected(
            f"{target.route.describe()} splits traffic {weights} with no deploy in progress; "
            "run `deploy rollback` to return to the recorded known-good colour first"
        )
    if last is not None and last.known_good is not None:
        recorded = last.target_color if last.phase == Phase.SUCCEEDED else last.known_good.color
        if recorded != live:
            raise Rejected(
                f"{live} takes all traffic but the last record ({last.deploy_id}, {last.phase}) "
                f"left {recorded} live: traffic was changed outside the deploy tool. Run "
                "`deploy rollback` to return to the record, or fix the listener by hand"
            )
    live_status = ctx.gateway.service_status(target.cluster, target.ecs_service(live))
    if not live_status.task_definition or live_status.desired < 1:
        raise Rejected(
            f"{target.ecs_service(live)} takes all traffic but runs "
            f"{live_status.desired} task(s) of {live_status.task_definition}"
        )
    pinned = ctx.gateway.resolve_image(image)
    state = DeployState(
        uuid.uuid4().hex[:12],
        target.service,
        "production",
        pinned,
        kind="deploy",
        owner=ctx.owner,
        known_good=Revision(live, live_status.task_definition, max(1, live_status.desired)),
        live_color=live,
        target_color=other_color(live),
        previous_task_definition=live_status.task_definition,
        desired_count=max(1, live_status.desired),
        strategy=[s.as_dict() for s in settings.steps],
        started_at=ctx.clock.now(),
    )
    # The image goes into the container the load balancer sends traffic to (never a sidecar).
    container = target.container or (live_status.lb_containers[0] if len(set(live_status.lb_containers)) == 1 else None)
    state.route = route_of(target)
    state.new_task_definition = ctx.aws.register_revision(live_status.task_definition, pinned, container)
    return state


def production(
    ctx: RolloutContext,
    target: ProductionTarget,
    image: str,
    settings: ProductionSettings,
    resume: bool = False,
) -> DeployState:
    key = DeployLock.key("production", target.service)
    with ctx.holding(key) as lease:
        state: Optional[DeployState] = None
        try:
            state = _begin(ctx, lease, target, image, settings, resume)
            if not state.events:  # a new deploy: its first record, from here on it can be undone
                ctx.record(
                    lease,
                    state,
                    Phase.STARTED,
                    f"{state.live_color} is live on {state.previous_task_definition}; "
                    f"{state.target_color} gets {state.new_task_definition}",
                )
                ctx.notify(
                    f":rocket: production deploy of {target.service} started",
                    "#439FE0",
                    {"image": state.image},
                )
            _phases(ctx, lease, target, state, settings)
            if state.phase != Phase.SUCCEEDED:
                raise DeployFailed(state.reason or f"resumed at {state.phase}: finishing the rollback")
        except (Rejected, LockLost):
            raise
        except BaseException as exc:  # pylint: disable=broad-except  # every way out is restored
            if isinstance(exc, (KeyboardInterrupt, SystemExit)) and not isinstance(exc, Interrupted):
                raise
            reason = _reason(exc)
            if state is not None and state.phase == Phase.SUCCEEDED:
                return state  # it succeeded; what failed after the record changes nothing
            if state is None:  # nothing was changed
                if isinstance(exc, GatewayError) and exc.user_error:  # pylint: disable=no-member
                    raise Rejected(str(exc)) from None
                raise DeployFailed(reason) from None
            restore(ctx, lease, target, state, reason)
            raise DeployFailed(reason, state) from None
        return state


def _reason(exc: BaseException) -> str:
    if isinstance(exc, DeployFailed):
        return exc.reason
    if isinstance(exc, Interrupted):
        return str(exc)
    if isinstance(exc, GatewayError):
        return f"AWS error: {exc}"
    return f"unexpected {type(exc).__name__}: {exc}"


def _begin(
    ctx: RolloutContext,
    lease: Lease,
    target: ProductionTarget,
    image: str,
    settings: ProductionSettings,
    resume: bool,
) -> DeployState:
    last = ctx.lock.load(lease.key)
    if resume:
        if last is None or last.terminal:
            raise Rejected(
                f"nothing to resume for production/{target.service} " f"(last: {last.phase if last else 'none'})"
            )
        if last.kind == "rollback":
            raise Rejected(
                f"the interrupted operation is a rollback ({last.deploy_id}, {last.phase}): "
                "run `deploy rollback` to finish it"
            )
        check_wiring(ctx, target, last)
        # (A deploy whose rollback was cut off is finished by production(): never turned back into
        # a deploy.)
        ctx.note(lease, last, f"resumed by {ctx.owner} at phase {last.phase}, step {last.step_index}")
        return last
    if last is not None and not last.terminal:
        raise Rejected(
            f"deploy {last.deploy_id} of {target.service} was interrupted at {last.phase}; "
            "run `deploy production --resume` or `deploy rollback` first"
        )
    return _new_state(ctx, target, image, settings, last)


def _phases(
    ctx: RolloutContext,
    lease: Lease,
    target: ProductionTarget,
    state: DeployState,
    settings: ProductionSettings,
) -> None:
    assert state.target_color and state.live_color and state.new_task_definition  # nosec B101
    green = Revision(state.target_color, state.new_task_definition, state.desired_count or 1)
    green_service = target.ecs_service(green.color)
    green_tg = target.target_group(green.color)
    if state.phase in (Phase.STARTED, Phase.GREEN_DEPLOYING):
        ctx.record(lease, state, Phase.GREEN_DEPLOYING, f"{green_service} -> {green.describe()}")
        ctx.aws.update_service(target.cluster, green_service, green.task_definition, green.desired)
        ctx.wait_for_rollout(target.cluster, green_service, green.task_definition, green_tg)
        ctx.record(
            lease,
            state,
            Phase.GREEN_HEALTHY,
            f"{green_service} healthy behind {green_tg.split(':')[-1]}",
        )
    if state.phase == Phase.GREEN_HEALTHY:
        if settings.green_test_url:
            results = run_checks(settings.green_test_url, list(settings.green_checks), sleep=ctx.clock.sleep)
            state.verdicts.append({"label": "green tests", "checks": [r.as_dict() for r in results]})
            bad = [r for r in results if not r.ok]
            if bad:
                raise DeployFailed(
                    "tests against green failed: " + "; ".join(f"{r.check} -> {r.status or r.detail}" for r in bad)
                )
        ctx.record(
            lease,
            state,
            Phase.GREEN_TESTED,
            "tests against green passed" if settings.green_test_url else "no green tests configured",
        )
    if state.phase in (Phase.GREEN_TESTED, Phase.SHIFTING):
        steps = [Step(int(s["green_weight"]), float(s["hold_s"])) for s in state.strategy] or list(settings.steps)
        baseline = _pre_shift_baseline(ctx, target, state, settings)
        for index in range(state.step_index, len(steps)):
            step = steps[index]
            # Never move traffic to a colour that is not up and healthy (a resumed deploy, or a
            # green scaled down behind our back, is caught here).
            ready, detail = ctx.is_ready(target.cluster, green_service, green, green_tg)
            if not ready:
                raise DeployFailed(f"{green.color} is not ready for step {index + 1}: {detail}")
            state.step_index, state.green_weight = index, step.green_weight
            ctx.record(
                lease,
                state,
                Phase.SHIFTING,
                f"step {index + 1}/{len(steps)}: {step.green_weight}% to {green.color}",
            )
            ctx.aws.set_weights(
                target.route,
                {
                    target.target_group(state.live_color): 100 - step.green_weight,
                    green_tg: step.green_weight,
                },
            )
            if step.hold_s > 0:
                verdict = _analyze(ctx, lease, target, state, settings, step.hold_s, f"step {index + 1}", baseline)
                if _fails(verdict, settings):
                    raise DeployFailed(
                        f"analysis at {step.green_weight}% green: {verdict.result}: {'; '.join(verdict.reasons)}"
                    )
        ctx.record(lease, state, Phase.BAKING, f"100% on {green.color}; baking {settings.bake_s:.0f} s")
    if state.phase == Phase.BAKING:
        if settings.bake_s > 0:
            baseline = _pre_shift_baseline(ctx, target, state, settings)
            verdict = _analyze(ctx, lease, target, state, settings, settings.bake_s, "bake", baseline)
            if _fails(verdict, settings):
                raise DeployFailed(f"analysis during bake: {verdict.result}: {'; '.join(verdict.reasons)}")
        ctx.record(
            lease,
            state,
            Phase.RETIRING_BLUE,
            f"scaling {target.ecs_service(state.live_color)} to 0 (task definition kept for rollback)",
        )
    if state.phase == Phase.RETIRING_BLUE:
        ctx.aws.update_service(target.cluster, target.ecs_service(state.live_color), None, 0)
        state.finished_at = ctx.clock.now()
        # Recording the success is not interrupted: a signal now is noted and the run ends
        # succeeded (restoring blue over a finished, healthy deploy would be the outage risk).
        with ctx.shielded():
            ctx.record(lease, state, Phase.SUCCEEDED, f"{green.color} is live on {green.task_definition}")
            ctx.notify(
                f":white_check_mark: production deploy of {target.service} succeeded",
                "good",
                {"image": state.image},
            )


def _pre_shift_baseline(
    ctx: RolloutContext, target: ProductionTarget, state: DeployState, settings: ProductionSettings
) -> list[WindowMetrics]:
    """Blue's windows to judge green against once blue no longer serves: its history from before the
    first shift (read once, recorded) plus every window it served during this deploy."""
    recorded = next((v for v in state.verdicts if v.get("label") == "baseline"), None)
    if recorded is None and state.live_color:
        end = next((e.at for e in state.events if e.phase == Phase.SHIFTING.value), ctx.clock.now())
        try:
            blue = ctx.gateway.window_metrics(
                target.target_group(state.live_color),
                end - settings.baseline_s,
                end,
                settings.metric_period_s,
            )
        except GatewayError as exc:
            ctx.progress(f"  baseline: blue's history unavailable ({exc}); steps will provide it")
            blue = WindowMetrics(0, 0, ())
        recorded = {"label": "baseline", "blue_raw": _raw(blue)}
        state.verdicts.append(recorded)
    windows = [
        WindowMetrics(v["blue_raw"]["requests"], v["blue_raw"]["errors_5xx"], tuple(v["blue_raw"]["p99_ms"]))
        for v in state.verdicts
        if v.get("blue_raw", {}).get("requests")
    ]
    return windows


def _raw(m: WindowMetrics) -> dict[str, object]:
    return {"requests": m.requests, "errors_5xx": m.errors_5xx, "p99_ms": list(m.p99_ms)}


def _analyze(
    ctx: RolloutContext,
    lease: Lease,
    target: ProductionTarget,
    state: DeployState,
    settings: ProductionSettings,
    window_s: float,
    label: str,
    baseline: list[WindowMetrics],
) -> Verdict:
    assert state.target_color and state.live_color  # nosec B101 - set before shifting starts
    extensions = marginal_seen = 0
    while True:
        start = ctx.clock.now()
        ctx.clock.sleep(window_s)
        end = ctx.clock.now()
        ctx.fence()
        try:
            green = ctx.gateway.window_metrics(
                target.target_group(state.target_color), start, end, settings.metric_period_s
            )
            blue = ctx.gateway.window_metrics(
                target.target_group(state.live_color), start, end, settings.metric_period_s
            )
        except GatewayError as exc:
            # Metrics we cannot read are no evidence: a no-data window, under the no-data policy.
            empty = WindowMetrics(0, 0, ())
            verdict = Verdict("nodata", (f"no data: metrics unavailable: {exc}",), empty, empty)
            state.verdicts.append({"label": label, "green_weight": state.green_weight, **verdict.as_dict()})
        else:
            # While blue takes traffic it is judged on this very window (no data from it is no
            # data); once green takes everything, blue's earlier windows are the baseline.
            judged_against, source = blue, "this window"
            if state.green_weight >= 100:
                judged_against = pooled_baseline(baseline + ([blue] if blue.requests else []))
                source = f"pooled: {len(baseline)} earlier blue window(s)"
            verdict = compare(green, judged_against, settings.analysis)
            state.verdicts.append(
                {
                    "label": label,
                    "green_weight": state.green_weight,
                    "baseline": source,
                    **verdict.as_dict(),
                    "blue_raw": _raw(blue),
                }
            )
            if blue.requests:
                baseline.append(blue)
        ctx.progress(
            f"  analysis {label} at {state.green_weight}% green: {verdict.result} - {'; '.join(verdict.reasons)}"
        )
        ctx.lock.save(lease, state)
        if verdict.result == "nodata" and settings.nodata_policy == "extend" and extensions < settings.max_extensions:
            extensions += 1
            continue
        if verdict.result == "marginal" and settings.marginal_policy == "extend" and marginal_seen == 0:
            marginal_seen += 1
            continue
        return verdict


def _fails(verdict: Verdict, settings: ProductionSettings) -> bool:
    if verdict.result in ("fail", "nodata"):
        return True
    return verdict.result == "marginal" and settings.marginal_policy != "continue"
