"""After a successful production deploy: CDN invalidation, cache warm-up, Grafana dashboards.

Each step reports ``{"ok": ..., "detail": ...}`` and never raises: the deploy already succeeded, so a
failed step makes the run exit 4 with the report saying which step failed and why - it must not turn
a good deploy into a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from netflix_clone.deploy.adapters.aws_gateway import GatewayError
from netflix_clone.deploy.adapters.notify import GrafanaClient, NotifyError
from netflix_clone.deploy.domain.state import DeployState
from netflix_clone.deploy.errors import LockLost
from netflix_clone.deploy.rollout.context import RolloutContext
from netflix_clone.deploy.rollout.rollback import ProductionTarget

__all__ = ["PostDeploy", "post_deploy"]


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
    poll_s: float = 10.0


def post_deploy(ctx: RolloutContext, target: ProductionTarget, state: DeployState, post: PostDeploy) -> dict[str, Any]:
    steps: list[tuple[str, Callable[[], dict[str, Any]]]] = []
    if post.cloudfront_distribution_id and post.invalidation_paths:
        steps.append(("cloudfront", lambda: _invalidate(ctx, post, state)))
    if post.warm_cache:
        steps.append(("warm_cache", lambda: _warm_cache(ctx, target, post)))
    if post.grafana is not None:
        steps.append(("grafana", lambda: _grafana(ctx, target, state, post)))
    results: dict[str, Any] = {}
    for name, step in steps:
        try:
            results[name] = step()
        except (GatewayError, NotifyError, LockLost, OSError, ValueError, KeyError) as exc:
            results[name] = {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}
        ctx.progress(
            f"  post-deploy {name}: {'ok' if results[name].get('ok') else 'FAILED'} "
            f"{results[name].get('detail', '')}".rstrip()
        )
    return results


def _invalidate(ctx: RolloutContext, post: PostDeploy, state: DeployState) -> dict[str, Any]:
    assert post.cloudfront_distribution_id  # nosec B101
    paths = list(post.invalidation_paths)
    ids = []
    for i in range(0, len(paths), post.invalidation_batch):
        batch = paths[i : i + post.invalidation_batch]
        ids.append(ctx.gateway.create_invalidation(post.cloudfront_distribution_id, batch, f"{state.deploy_id}-{i}"))
    deadline = ctx.clock.now() + post.invalidation_timeout_s
    pending = set(ids)
    while pending:
        # AWS says "Completed"; moto says "COMPLETED".
        pending = {
            i
            for i in pending
            if ctx.gateway.invalidation_status(post.cloudfront_distribution_id, i).lower() != "completed"
        }
        if not pending:
            break
        if ctx.clock.now() >= deadline:
            return {
                "ok": False,
                "invalidations": ids,
                "detail": f"{len(pending)} invalidation(s) still in progress "
                f"after {post.invalidation_timeout_s:.0f} s",
            }
        ctx.clock.sleep(post.poll_s)
    return {"ok": True, "invalidations": ids, "paths": len(paths)}


def _warm_cache(ctx: RolloutContext, target: ProductionTarget, post: PostDeploy) -> dict[str, Any]:
    candidates = [
        f"{post.warm_cache_service}-blue",
        f"{post.warm_cache_service}-green",
        post.warm_cache_service,
    ]
    for name in candidates:
        status = ctx.gateway.service_status(target.cluster, name)
        if status.exists and status.desired > 0 and status.task_definition:
            break
    else:
        message = f"{post.warm_cache_service} is not deployed in {target.cluster}; cache warm-up skipped"
        return {"ok": True, "skipped": True, "detail": message}
    assert status.task_definition  # nosec B101 - checked above
    # The command runs in the app's container: the one the load balancer serves, else the only one.
    names = [c["name"] for c in ctx.gateway.task_definition(status.task_definition)["containerDefinitions"]]
    lb = [n for n in status.lb_containers if n in names]
    if not lb and len(names) > 1:
        return {"ok": False, "detail": f"cannot tell which of {', '.join(names)} runs the app"}
    container = lb[0] if lb else names[0]
    # The one-off task starts the way the service's own tasks do (Fargate/awsvpc needs the
    # launch type and the subnets/security groups; EC2 capacity providers need the strategy).
    task = ctx.gateway.run_task(
        target.cluster,
        status.task_definition,
        container,
        list(post.warm_cache_command),
        status.run_task_launch(),
    )
    deadline = ctx.clock.now() + post.warm_cache_timeout_s
    while (code := ctx.gateway.task_exit_code(target.cluster, task)) is None:
        if ctx.clock.now() >= deadline:
            return {
                "ok": False,
                "task": task,
                "detail": f"warm-up task still running after {post.warm_cache_timeout_s:.0f} s",
            }
        ctx.clock.sleep(post.poll_s)
    result = {"ok": code == 0, "task": task, "exit_code": code, "service": name}
    if code != 0:
        result["detail"] = f"warm-up task exited {code}"
    return result


def _grafana(ctx: RolloutContext, target: ProductionTarget, state: DeployState, post: PostDeploy) -> dict[str, Any]:
    assert post.grafana is not None  # nosec B101
    dashboards = (
        post.grafana.upsert_directory(post.dashboards_dir, f"deploy {state.deploy_id}") if post.dashboards_dir else []
    )
    annotation = post.grafana.annotate(
        f"{target.service} deployed: {state.image}",
        ["deploy", target.service, state.environment],
        int(ctx.clock.now() * 1000),
    )
    return {"ok": True, "dashboards": dashboards, "annotation_id": annotation}
