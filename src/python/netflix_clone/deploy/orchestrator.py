"""Staging deploys, blue-green production deploys with analysis, rollbacks and post-deploy steps.

Every wait is bounded, every failure carries its reason into the state, the report and Slack, and
traffic always goes back to the old colour *before* anything is cleaned up.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Protocol

from netflix_clone.deploy.adapters.coordination import DeployCoordinator
from netflix_clone.deploy.adapters.gateway import CloudGateway, ServiceStatus
from netflix_clone.deploy.adapters.http_checks import run_checks
from netflix_clone.deploy.adapters.notify import GrafanaClient, NotifyError, SlackNotifier
from netflix_clone.deploy.domain.analysis import AnalysisConfig, Verdict, WindowMetrics, compare
from netflix_clone.deploy.domain.state import DeployState, other_color
from netflix_clone.deploy.domain.strategies import Step

__all__ = [
    "Clock",
    "DeployFailed",
    "Deployer",
    "PostDeploy",
    "ProductionSettings",
    "ProductionTarget",
    "RealClock",
]

log = logging.getLogger("netflix_clone.deploy")


class Clock(Protocol):
    def now(self) -> float:
        ...

    def sleep(self, seconds: float) -> None:
        ...


class RealClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class DeployFailed(RuntimeError):
    """The deploy did not succeed; ``reason`` says why (and the service is back where it was)."""

    def __init__(self, reason: str, state: Optional[DeployState] = None) -> None:
        self.reason = reason
        self.state = state
        super().__init__(reason)


@dataclass(frozen=True)
class ProductionTarget:
    cluster: str
    service: str  # ECS services are "<service>-blue" and "<service>-green"
    listener_arn: str
    blue_target_group: str
    green_target_group: str
    rule_arns: tuple[str, ...] = ()
    container: Optional[str] = None

    def target_group(self, color: str) -> str:
        return self.blue_target_group if color == "blue" else self.green_target_group

    def ecs_service(self, color: str) -> str:
        return f"{self.service}-{color}"


@dataclass(frozen=True)
class ProductionSettings:
    steps: tuple[Step, ...]
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    metric_period_s: int = 60
    bake_s: float = 300.0
    rollout_timeout_s: float = 900.0
    poll_s: float = 15.0
    green_test_url: Optional[str] = None
    green_checks: tuple[str, ...] = ("GET /healthz 200", "GET /readyz 200")
    nodata_policy: str = "extend"  # extend (up to max_extensions windows, then fail) | fail
    marginal_policy: str = (
        "extend"  # extend (one more window; marginal again fails) | fail | continue
    )
    max_extensions: int = 2


@dataclass(frozen=True)
class PostDeploy:
    cloudfront_distribution_id: Optional[str] = None
    invalidation_paths: tuple[str, ...] = ()
    invalidation_batch: int = 1000
    invalidation_timeout_s: float = 900.0
    warm_cache: bool = False
    warm_cache_service: str = "recommendation-service"
    warm_cache_command: tuple[str, ...] = ("warm-cache", "--top-users", "10000")
    warm_cache_timeout_s: float = 900.0
    grafana: Optional[GrafanaClient] = None
    dashboards_dir: Optional[Path] = None


class Deployer:
    def __init__(
        self,
        gateway: CloudGateway,
        coordinator: DeployCoordinator,
        clock: Clock,
        notifier: Optional[SlackNotifier] = None,
        owner: Optional[str] = None,
        progress: Callable[[str], None] = lambda message: log.info("%s", message),
        lock_ttl_s: float = 3600.0,
    ) -> None:
        self.lock_ttl_s = lock_ttl_s
        self.gateway = gateway
        self.coordinator = coordinator
        self.clock = clock
        self.notifier = notifier
        self.owner = owner or f"deploy-{uuid.uuid4().hex[:8]}"
        self.progress = progress
        self.notifications: list[str] = []

    # Shared pieces ------------------------------------------------------------------------------
    def _notify(self, text: str, color: str, fields: Optional[dict[str, str]] = None) -> None:
        if self.notifier is None:
            return
        try:
            self.notifier.send(text, color, fields)
            self.notifications.append(text)
        except NotifyError as exc:  # a lost notification must not change the deploy's outcome
            log.error("slack notification failed: %s", exc)
            self.notifications.append(f"FAILED TO SEND: {text} ({exc})")

    def _record(self, key: str, state: DeployState, phase: str, message: str) -> None:
        state.record(self.clock.now(), phase, message)
        self.progress(f"[{state.environment}/{state.service}] {phase}: {message}")
        self.coordinator.renew(key, self.owner, self.lock_ttl_s)
        self.coordinator.save(key, self.owner, state)

    def wait_for_rollout(
        self,
        cluster: str,
        service: str,
        task_definition: str,
        target_group: Optional[str],
        timeout_s: float,
        poll_s: float,
    ) -> ServiceStatus:
        """Until ECS finished *our* deployment and the load balancer calls every task healthy.

        ECS's circuit breaker rolling the service back, or any deployment failure, raises with ECS's
        own reason; so does the timeout, with the last state seen.
        """
        deadline = self.clock.now() + timeout_s
        last = "no status yet"
        while True:
            status = self.gateway.service_status(cluster, service)
            if not status.exists:
                raise DeployFailed(f"ECS service {service} does not exist in cluster {cluster}")
            ours = [d for d in status.deployments if d.task_definition == task_definition]
            primary = status.primary
            failed = next((d for d in ours if d.rollout_state == "FAILED"), None)
            if failed is not None:
                raise DeployFailed(
                    f"ECS deployment of {task_definition} failed on {service}: "
                    f"{failed.rollout_reason or 'no reason given'}"
                    f" ({failed.failed_tasks} failed tasks)"
                )
            if (
                primary is not None
                and primary.task_definition != task_definition
                and not any(d.status == "PRIMARY" for d in ours)
            ):
                events = "; ".join(status.events[:2])
                raise DeployFailed(
                    f"ECS rolled {service} back to {primary.task_definition} (circuit breaker): "
                    f"{primary.rollout_reason or events or 'no reason given'}"
                )
            if primary is not None and primary.task_definition == task_definition:
                drained = len(status.deployments) == 1
                done = (
                    primary.rollout_state == "COMPLETED"
                    and primary.running >= primary.desired
                    and drained
                )
                health: list[str] = (
                    self.gateway.target_health(target_group) if target_group and done else []
                )
                healthy = sum(1 for h in health if h == "healthy")
                if done and (
                    target_group is None
                    or (health and healthy == len(health) and healthy >= primary.desired)
                ):
                    return status
                last = (
                    f"rolloutState={primary.rollout_state}, running {primary.running}/{primary.desired}, "
                    f"{len(status.deployments)} deployment(s), targets {health or 'not checked'}"
                )
            if self.clock.now() >= deadline:
                raise DeployFailed(f"{service} not stable after {timeout_s:.0f} s: {last}")
            self.clock.sleep(poll_s)

    # Staging ------------------------------------------------------------------------------------
    def staging(
        self,
        cluster: str,
        service: str,
        image: str,
        target_group: Optional[str],
        smoke_url: Optional[str],
        smoke_checks: tuple[str, ...],
        container: Optional[str] = None,
        rollout_timeout_s: float = 900.0,
        poll_s: float = 15.0,
    ) -> DeployState:
        key = self.coordinator.key("staging", service)
        self.coordinator.acquire(key, self.owner, self.lock_ttl_s)
        state = DeployState(
            uuid.uuid4().hex[:12], service, "staging", image, started_at=self.clock.now()
        )
        try:
            pinned = self.gateway.resolve_image(image)
            status = self.gateway.service_status(cluster, service)
            if not status.exists or not status.task_definition:
                raise DeployFailed(f"ECS service {service} does not exist in cluster {cluster}")
            state.previous_task_definition = status.task_definition
            state.new_task_definition = self.gateway.register_revision(
                status.task_definition, pinned, container
            )
            self._record(
                key, state, "deploying", f"{service} -> {state.new_task_definition} ({pinned})"
            )
            self.gateway.update_service(cluster, service, state.new_task_definition, None)
            try:
                self.wait_for_rollout(
                    cluster,
                    service,
                    state.new_task_definition,
                    target_group,
                    rollout_timeout_s,
                    poll_s,
                )
                if smoke_url:
                    results = run_checks(smoke_url, list(smoke_checks), sleep=self.clock.sleep)
                    state.verdicts.append({"smoke": [r.as_dict() for r in results]})
                    bad = [r for r in results if not r.ok]
                    if bad:
                        raise DeployFailed(
                            "smoke tests failed: "
                            + "; ".join(f"{r.check} -> {r.status or r.detail}" for r in bad)
                        )
            except DeployFailed as exc:
                state.reason = exc.reason
                self._record(
                    key,
                    state,
                    "rolling_back",
                    f"back to {state.previous_task_definition}: {exc.reason}",
                )
                self.gateway.update_service(cluster, service, state.previous_task_definition, None)
                self.wait_for_rollout(
                    cluster,
                    service,
                    state.previous_task_definition,
                    target_group,
                    rollout_timeout_s,
                    poll_s,
                )
                raise
            state.finished_at = self.clock.now()
            self._record(key, state, "succeeded", f"{service} runs {state.new_task_definition}")
            self._notify(
                f":white_check_mark: staging deploy of {service} succeeded",
                "good",
                {"image": pinned},
            )
            return state
        except DeployFailed as exc:
            state.reason = exc.reason
            state.finished_at = self.clock.now()
            if state.phase != "failed":
                self._record(
                    key,
                    state,
                    "rolled_back" if state.phase == "rolling_back" else "failed",
                    exc.reason,
                )
            self._notify(
                f":x: staging deploy of {service} failed: {exc.reason}", "danger", {"image": image}
            )
            raise DeployFailed(exc.reason, state) from None
        finally:
            self.coordinator.release(key, self.owner)

    # Production ---------------------------------------------------------------------------------
    def _analyze(
        self,
        target: ProductionTarget,
        state: DeployState,
        settings: ProductionSettings,
        window_s: float,
        label: str,
    ) -> Verdict:
        assert state.target_color and state.live_color  # nosec B101 - set before shifting starts
        extensions = marginal_seen = 0
        while True:
            start = self.clock.now()
            self.clock.sleep(window_s)
            end = self.clock.now()
            green = self.gateway.window_metrics(
                target.target_group(state.target_color), start, end, settings.metric_period_s
            )
            blue = self.gateway.window_metrics(
                target.target_group(state.live_color), start, end, settings.metric_period_s
            )
            if blue.requests == 0 and state.verdicts:
                # Blue takes no traffic at 100 %: judge against the last window blue did serve.
                baseline = next(
                    (
                        v["blue_raw"]
                        for v in reversed(state.verdicts)
                        if v.get("blue_raw", {}).get("requests")
                    ),
                    None,
                )
                if baseline:
                    blue = WindowMetrics(
                        baseline["requests"], baseline["errors_5xx"], tuple(baseline["p99_ms"])
                    )
            verdict = compare(green, blue, settings.analysis)
            state.verdicts.append(
                {
                    "label": label,
                    "green_weight": state.green_weight,
                    **verdict.as_dict(),
                    "blue_raw": {
                        "requests": blue.requests,
                        "errors_5xx": blue.errors_5xx,
                        "p99_ms": list(blue.p99_ms),
                    },
                }
            )
            self.progress(
                f"  analysis {label} at {state.green_weight}% green: {verdict.result} - {'; '.join(verdict.reasons)}"
            )
            if (
                verdict.result == "nodata"
                and settings.nodata_policy == "extend"
                and extensions < settings.max_extensions
            ):
                extensions += 1
                continue
            if (
                verdict.result == "marginal"
                and settings.marginal_policy == "extend"
                and marginal_seen == 0
            ):
                marginal_seen += 1
                continue
            return verdict

    def _verdict_fails(self, verdict: Verdict, settings: ProductionSettings) -> bool:
        if verdict.result in ("fail", "nodata"):
            return True
        return verdict.result == "marginal" and settings.marginal_policy != "continue"

    def production(
        self,
        target: ProductionTarget,
        image: str,
        settings: ProductionSettings,
        resume: bool = False,
    ) -> DeployState:
        key = self.coordinator.key("production", target.service)
        self.coordinator.acquire(key, self.owner, self.lock_ttl_s)
        try:
            state = self._production_state(key, target, image, settings, resume)
            try:
                self._production_phases(key, target, state, settings)
            except DeployFailed as exc:
                self._rollback_in_progress(key, target, state, exc.reason, settings)
                raise DeployFailed(exc.reason, state) from None
            return state
        finally:
            self.coordinator.release(key, self.owner)

    def _production_state(
        self,
        key: str,
        target: ProductionTarget,
        image: str,
        settings: ProductionSettings,
        resume: bool,
    ) -> DeployState:
        if resume:
            state = self.coordinator.load(key)
            if state is None or state.terminal:
                raise DeployFailed(
                    f"nothing to resume for production/{target.service} (last: {state and state.phase})"
                )
            self._record(
                key,
                state,
                state.phase,
                f"resumed by {self.owner} at phase {state.phase}, step {state.step_index}",
            )
            return state
        previous = self.coordinator.load(key)
        if previous is not None and not previous.terminal:
            raise DeployFailed(
                f"deploy {previous.deploy_id} of {target.service} was interrupted at {previous.phase}; "
                "run `deploy production --resume` or `deploy rollback` first"
            )
        state = DeployState(
            uuid.uuid4().hex[:12], target.service, "production", image, started_at=self.clock.now()
        )
        state.strategy = [s.as_dict() for s in settings.steps]
        weights = self.gateway.listener_weights(target.listener_arn)
        blue_w = weights.get(target.blue_target_group, 0)
        green_w = weights.get(target.green_target_group, 0)
        state.live_color = "blue" if blue_w >= green_w else "green"
        state.target_color = other_color(state.live_color)
        live = self.gateway.service_status(target.cluster, target.ecs_service(state.live_color))
        if not live.exists or not live.task_definition:
            raise DeployFailed(
                f"live service {target.ecs_service(state.live_color)} not found in {target.cluster}"
            )
        state.previous_task_definition = live.task_definition
        state.desired_count = max(1, live.desired)
        pinned = self.gateway.resolve_image(image)
        state.image = pinned
        state.new_task_definition = self.gateway.register_revision(
            live.task_definition, pinned, target.container
        )
        self._record(
            key,
            state,
            "started",
            f"{state.live_color} is live on {live.task_definition}; "
            f"{state.target_color} gets {state.new_task_definition}",
        )
        self._notify(
            f":rocket: production deploy of {target.service} started", "#439FE0", {"image": pinned}
        )
        return state

    def _production_phases(
        self, key: str, target: ProductionTarget, state: DeployState, settings: ProductionSettings
    ) -> None:
        assert state.target_color and state.live_color and state.new_task_definition  # nosec B101
        green_service = target.ecs_service(state.target_color)
        green_tg = target.target_group(state.target_color)
        if state.phase in ("started", "green_deploying"):
            self._record(
                key,
                state,
                "green_deploying",
                f"{green_service} -> {state.new_task_definition} x{state.desired_count}",
            )
            self.gateway.update_service(
                target.cluster, green_service, state.new_task_definition, state.desired_count
            )
            self.wait_for_rollout(
                target.cluster,
                green_service,
                state.new_task_definition,
                green_tg,
                settings.rollout_timeout_s,
                settings.poll_s,
            )
            self._record(
                key,
                state,
                "green_healthy",
                f"{green_service} healthy behind {green_tg.split(':')[-1]}",
            )
        if state.phase == "green_healthy":
            if settings.green_test_url:
                results = run_checks(
                    settings.green_test_url, list(settings.green_checks), sleep=self.clock.sleep
                )
                state.verdicts.append(
                    {"label": "green tests", "checks": [r.as_dict() for r in results]}
                )
                bad = [r for r in results if not r.ok]
                if bad:
                    raise DeployFailed(
                        "tests against green failed: "
                        + "; ".join(f"{r.check} -> {r.status or r.detail}" for r in bad)
                    )
            self._record(
                key,
                state,
                "green_tested",
                "tests against green passed"
                if settings.green_test_url
                else "no green tests configured",
            )
        if state.phase in ("green_tested", "shifting"):
            steps = (
                list(settings.steps)
                if not state.strategy
                else [Step(int(s["green_weight"]), float(s["hold_s"])) for s in state.strategy]
            )
            for index in range(state.step_index, len(steps)):
                step = steps[index]
                state.step_index, state.green_weight = index, step.green_weight
                self._record(
                    key,
                    state,
                    "shifting",
                    f"step {index + 1}/{len(steps)}: {step.green_weight}% to {state.target_color}",
                )
                self.gateway.set_weights(
                    target.listener_arn,
                    {
                        target.target_group(state.live_color): 100 - step.green_weight,
                        green_tg: step.green_weight,
                    },
                    target.rule_arns,
                )
                if step.hold_s > 0:
                    verdict = self._analyze(
                        target, state, settings, step.hold_s, f"step {index + 1}"
                    )
                    if self._verdict_fails(verdict, settings):
                        raise DeployFailed(
                            f"analysis at {step.green_weight}% green: {verdict.result}: {'; '.join(verdict.reasons)}"
                        )
            self._record(
                key,
                state,
                "baking",
                f"100% on {state.target_color}; baking {settings.bake_s:.0f} s",
            )
        if state.phase == "baking":
            if settings.bake_s > 0:
                verdict = self._analyze(target, state, settings, settings.bake_s, "bake")
                if self._verdict_fails(verdict, settings):
                    raise DeployFailed(
                        f"analysis during bake: {verdict.result}: {'; '.join(verdict.reasons)}"
                    )
            self._record(
                key,
                state,
                "retiring_blue",
                f"scaling {target.ecs_service(state.live_color)} to 0 (task definition kept for rollback)",
            )
        if state.phase == "retiring_blue":
            self.gateway.update_service(
                target.cluster, target.ecs_service(state.live_color), None, 0
            )
            state.finished_at = self.clock.now()
            self._record(
                key,
                state,
                "succeeded",
                f"{state.target_color} is live on {state.new_task_definition}",
            )
            self._notify(
                f":white_check_mark: production deploy of {target.service} succeeded",
                "good",
                {"image": state.image},
            )

    def _rollback_in_progress(
        self,
        key: str,
        target: ProductionTarget,
        state: DeployState,
        reason: str,
        settings: ProductionSettings,
    ) -> None:
        """Traffic to the old colour first (customers), then tear down the new one (cost)."""
        state.reason = reason
        self._record(key, state, "rolling_back", reason)
        if state.live_color and state.target_color:
            self.gateway.set_weights(
                target.listener_arn,
                {
                    target.target_group(state.live_color): 100,
                    target.target_group(state.target_color): 0,
                },
                target.rule_arns,
            )
            state.green_weight = 0
            self.gateway.update_service(
                target.cluster, target.ecs_service(state.target_color), None, 0
            )
        state.finished_at = self.clock.now()
        self._record(key, state, "rolled_back", f"traffic back on {state.live_color}: {reason}")
        self._notify(
            f":rotating_light: production deploy of {target.service} rolled back: {reason}",
            "danger",
            {"image": state.image},
        )

    def rollback(
        self,
        target: ProductionTarget,
        settings: ProductionSettings,
        reason: str = "manual rollback",
    ) -> DeployState:
        """Manual rollback: an interrupted deploy is undone; a finished one is reverted to the previous colour."""
        key = self.coordinator.key("production", target.service)
        self.coordinator.acquire(key, self.owner, self.lock_ttl_s)
        try:
            last = self.coordinator.load(key)
            if last is not None and not last.terminal:
                self._rollback_in_progress(key, target, last, reason, settings)
                return last
            weights = self.gateway.listener_weights(target.listener_arn)
            live = (
                "blue"
                if weights.get(target.blue_target_group, 0)
                >= weights.get(target.green_target_group, 0)
                else "green"
            )
            previous = other_color(live)
            prev_service = target.ecs_service(previous)
            prev_status = self.gateway.service_status(target.cluster, prev_service)
            live_status = self.gateway.service_status(target.cluster, target.ecs_service(live))
            prev_td = (
                last.previous_task_definition if last and last.target_color == live else None
            ) or prev_status.task_definition
            if not prev_td:
                raise DeployFailed(
                    f"no previous revision to roll back to: {prev_service} has no task definition"
                )
            state = DeployState(
                uuid.uuid4().hex[:12],
                target.service,
                "production",
                f"rollback to {prev_td}",
                started_at=self.clock.now(),
            )
            state.live_color, state.target_color = live, previous
            state.previous_task_definition, state.new_task_definition = (
                live_status.task_definition,
                prev_td,
            )
            state.desired_count = max(1, live_status.desired)
            self._record(
                key,
                state,
                "green_deploying",
                f"{reason}: {prev_service} -> {prev_td} x{state.desired_count}",
            )
            self.gateway.update_service(target.cluster, prev_service, prev_td, state.desired_count)
            self.wait_for_rollout(
                target.cluster,
                prev_service,
                prev_td,
                target.target_group(previous),
                settings.rollout_timeout_s,
                settings.poll_s,
            )
            self.gateway.set_weights(
                target.listener_arn,
                {target.target_group(live): 0, target.target_group(previous): 100},
                target.rule_arns,
            )
            self.gateway.update_service(target.cluster, target.ecs_service(live), None, 0)
            state.green_weight = 100
            state.reason = reason
            state.finished_at = self.clock.now()
            self._record(key, state, "rolled_back", f"{previous} is live again on {prev_td}")
            self._notify(
                f":leftwards_arrow_with_hook: {target.service} rolled back to {prev_td}",
                "warning",
                {"reason": reason},
            )
            return state
        finally:
            self.coordinator.release(key, self.owner)

    # After a successful production deploy ------------------------------------------------------
    def post_deploy(
        self, target: ProductionTarget, state: DeployState, post: PostDeploy
    ) -> dict[str, Any]:
        results: dict[str, Any] = {}
        if post.cloudfront_distribution_id and post.invalidation_paths:
            results["cloudfront"] = self._invalidate(post, state)
        if post.warm_cache:
            results["warm_cache"] = self._warm_cache(target, post)
        if post.grafana is not None:
            results["grafana"] = self._grafana(target, state, post)
        return results

    def _invalidate(self, post: PostDeploy, state: DeployState) -> dict[str, Any]:
        assert post.cloudfront_distribution_id  # nosec B101
        paths = list(post.invalidation_paths)
        ids = []
        for i in range(0, len(paths), post.invalidation_batch):
            batch = paths[i : i + post.invalidation_batch]
            ids.append(
                self.gateway.create_invalidation(
                    post.cloudfront_distribution_id, batch, f"{state.deploy_id}-{i}"
                )
            )
        deadline = self.clock.now() + post.invalidation_timeout_s
        pending = set(ids)
        while pending:
            # AWS says "Completed"; moto says "COMPLETED".
            pending = {
                i
                for i in pending
                if self.gateway.invalidation_status(post.cloudfront_distribution_id, i).lower()
                != "completed"
            }
            if not pending:
                break
            if self.clock.now() >= deadline:
                return {
                    "ok": False,
                    "invalidations": ids,
                    "detail": f"{len(pending)} invalidation(s) still in progress "
                    f"after {post.invalidation_timeout_s:.0f} s",
                }
            self.clock.sleep(10)
        self.progress(f"  CloudFront: {len(paths)} path(s) invalidated in {len(ids)} batch(es)")
        return {"ok": True, "invalidations": ids, "paths": len(paths)}

    def _warm_cache(self, target: ProductionTarget, post: PostDeploy) -> dict[str, Any]:
        candidates = [
            f"{post.warm_cache_service}-blue",
            f"{post.warm_cache_service}-green",
            post.warm_cache_service,
        ]
        for name in candidates:
            status = self.gateway.service_status(target.cluster, name)
            if status.exists and status.desired > 0 and status.task_definition:
                break
        else:
            message = f"{post.warm_cache_service} is not deployed in {target.cluster}; cache warm-up skipped"
            self.progress(f"  {message}")
            return {"ok": True, "skipped": True, "detail": message}
        container = self.gateway.task_definition(status.task_definition)["containerDefinitions"][0][
            "name"
        ]
        task = self.gateway.run_task(
            target.cluster, status.task_definition, container, list(post.warm_cache_command)
        )
        deadline = self.clock.now() + post.warm_cache_timeout_s
        while (code := self.gateway.task_exit_code(target.cluster, task)) is None:
            if self.clock.now() >= deadline:
                return {
                    "ok": False,
                    "task": task,
                    "detail": f"warm-up task still running after {post.warm_cache_timeout_s:.0f} s",
                }
            self.clock.sleep(10)
        self.progress(f"  cache warm-up task {task.split('/')[-1]} exited {code}")
        return {"ok": code == 0, "task": task, "exit_code": code, "service": name}

    def _grafana(
        self, target: ProductionTarget, state: DeployState, post: PostDeploy
    ) -> dict[str, Any]:
        assert post.grafana is not None  # nosec B101
        try:
            dashboards = (
                post.grafana.upsert_directory(post.dashboards_dir, f"deploy {state.deploy_id}")
                if post.dashboards_dir
                else []
            )
            annotation = post.grafana.annotate(
                f"{target.service} deployed: {state.image}",
                ["deploy", target.service, state.environment],
                int(self.clock.now() * 1000),
            )
        except NotifyError as exc:
            return {"ok": False, "detail": str(exc)}
        return {"ok": True, "dashboards": dashboards, "annotation_id": annotation}
