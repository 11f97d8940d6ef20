"""Staging deploys: one ECS service, a new revision pinned by digest, rolled out, smoke-tested.

Any failure after the first change (rollout failure, circuit breaker, smoke tests, an AWS error,
SIGINT/SIGTERM) puts the previous revision back and waits for it (``rolled_back``, exit 1). A staging
deploy that was killed leaves its record in ``deploying``; the next staging deploy notes that and
proceeds (staging serves no customers, and the new deploy replaces the revision either way).
"""

from __future__ import annotations

import uuid
from typing import Optional

from netflix_clone.deploy.adapters.aws_gateway import GatewayError
from netflix_clone.deploy.adapters.http_checks import run_checks
from netflix_clone.deploy.adapters.lock import DeployLock
from netflix_clone.deploy.domain.state import DeployState, Phase, Revision
from netflix_clone.deploy.errors import DeployFailed, Interrupted, LockLost, Rejected
from netflix_clone.deploy.rollout.context import RolloutContext
from netflix_clone.deploy.rollout.rollback import restore_staging

__all__ = ["staging"]


def staging(
    ctx: RolloutContext,
    cluster: str,
    service: str,
    image: str,
    target_group: Optional[str],
    smoke_url: Optional[str],
    smoke_checks: tuple[str, ...],
    container: Optional[str] = None,
) -> DeployState:
    key = DeployLock.key("staging", service)
    with ctx.holding(key) as lease:
        last = ctx.lock.load(key)
        try:
            status = ctx.gateway.service_status(cluster, service)
            if not status.exists or not status.task_definition:
                raise Rejected(f"ECS service {service} does not exist in cluster {cluster}")
            pinned = ctx.gateway.resolve_image(image)
        except GatewayError as exc:
            if exc.user_error:
                raise Rejected(str(exc)) from None
            raise DeployFailed(f"AWS error: {exc}") from None
        state = DeployState(
            uuid.uuid4().hex[:12],
            service,
            "staging",
            pinned,
            owner=ctx.owner,
            known_good=Revision("staging", status.task_definition, max(1, status.desired)),
            previous_task_definition=status.task_definition,
            desired_count=max(1, status.desired),
            started_at=ctx.clock.now(),
        )
        state.new_task_definition = ctx.aws.register_revision(status.task_definition, pinned, container)
        message = f"{service} -> {state.new_task_definition} ({pinned})"
        if last is not None and not last.terminal:
            message += f"; replaces interrupted deploy {last.deploy_id} ({last.phase})"
        ctx.record(lease, state, Phase.STARTED, message)
        try:
            ctx.record(lease, state, Phase.DEPLOYING, message)
            ctx.aws.update_service(cluster, service, state.new_task_definition, None)
            ctx.wait_for_rollout(cluster, service, state.new_task_definition, target_group)
            if smoke_url:
                results = run_checks(smoke_url, list(smoke_checks), sleep=ctx.clock.sleep)
                state.verdicts.append({"smoke": [r.as_dict() for r in results]})
                bad = [r for r in results if not r.ok]
                if bad:
                    raise DeployFailed(
                        "smoke tests failed: " + "; ".join(f"{r.check} -> {r.status or r.detail}" for r in bad)
                    )
        except LockLost:
            raise
        except (DeployFailed, Interrupted, Exception) as exc:  # pylint: disable=broad-except
            if isinstance(exc, DeployFailed):
                reason = exc.reason
            elif isinstance(exc, GatewayError):
                reason = f"AWS error: {exc}"
            elif isinstance(exc, Interrupted):
                reason = str(exc)
            else:
                reason = f"unexpected {type(exc).__name__}: {exc}"
            restore_staging(ctx, lease, cluster, service, target_group, state, reason)
            raise DeployFailed(reason, state) from None
        state.finished_at = ctx.clock.now()
        ctx.record(lease, state, Phase.SUCCEEDED, f"{service} runs {state.new_task_definition}")
        ctx.notify(f":white_check_mark: staging deploy of {service} succeeded", "good", {"image": pinned})
        return state
