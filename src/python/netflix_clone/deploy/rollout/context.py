"""What every rollout use case shares: the AWS gateway behind the lock's fence, the clock, progress,
notifications, state records, and the two waits (a rollout to finish, a colour to be ready).

``Fenced`` wraps the gateway: every call that changes AWS first asks the lease keeper whether this
run still holds the deploy lock, so a run that lost it (paused past its lease, DynamoDB unreachable
for longer than the lease) raises :class:`LockLost` before touching anything.

``shielded()`` marks a rollback in progress: SIGINT/SIGTERM arriving then are noted and ignored, so
a CI runner's cancel cannot cut a rollback in half (SIGKILL can; ``deploy rollback`` finishes it).
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Optional, Protocol, TypeVar

from netflix_clone.deploy.adapters.aws_gateway import CloudGateway, GatewayError, ServiceStatus
from netflix_clone.deploy.adapters.lock import DeployLock, Lease, LeaseKeeper
from netflix_clone.deploy.adapters.notify import SlackNotifier
from netflix_clone.deploy.domain.state import DeployState, Phase, Revision
from netflix_clone.deploy.errors import DeployFailed, Interrupted

# pylint: disable=assignment-from-no-return  # pylint reads the CloudGateway Protocol's `...` bodies
__all__ = ["Clock", "Fenced", "RealClock", "RolloutContext", "Waits"]

log = logging.getLogger("netflix_clone.deploy")
T = TypeVar("T")

_MUTATING = frozenset({"register_revision", "update_service", "set_weights", "create_invalidation", "run_task"})


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


class Fenced:
    """The gateway, with the lease checked before every call that changes AWS."""

    def __init__(self, gateway: CloudGateway, fence: Callable[[], None]) -> None:
        self._gateway = gateway
        self._fence = fence

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._gateway, name)
        if name not in _MUTATING:
            return attr

        def fenced(*args: Any, **kwargs: Any) -> Any:
            self._fence()
            return attr(*args, **kwargs)

        return fenced


@dataclass(frozen=True)
class Waits:
    rollout_timeout_s: float = 900.0
    poll_s: float = 15.0
    recovery_timeout_s: float = 600.0  # how long each rollback step keeps retrying AWS errors
    max_poll_errors: int = 3  # consecutive status errors tolerated while waiting


@dataclass
class RolloutContext:
    gateway: CloudGateway
    lock: DeployLock
    clock: Clock
    notifier: Optional[SlackNotifier] = None
    owner: str = field(default_factory=lambda: f"deploy-{uuid.uuid4().hex[:8]}")
    progress: Callable[[str], None] = lambda message: log.info("%s", message)
    lock_ttl_s: float = 300.0
    waits: Waits = field(default_factory=Waits)
    notifications: list[str] = field(default_factory=list)
    keeper: Optional[LeaseKeeper] = None
    shield_depth: int = 0
    deferred_signals: list[str] = field(default_factory=list)
    interrupted: bool = False  # a signal already interrupted this run (later ones are only noted)
    current: Optional[DeployState] = None  # the record this run last wrote (for its report)
    call_budget_s: float = 60.0  # the longest one AWS call can take, retries included (fence margin)

    # The lock ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def holding(self, key: str) -> Iterator[Lease]:
        """Hold the deploy lock for ``key``, renewed in the background, released on the way out.

        Taking and releasing the lease are shielded from SIGINT/SIGTERM (a signal landing after
        DynamoDB applied the write must not leave a dead run's lease behind); a signal that arrived
        while the lease was being taken interrupts the run right after, inside the lock.
        """
        lease: Optional[Lease] = None
        try:
            with self.shielded():
                lease = self.lock.acquire(key, self.owner, self.lock_ttl_s)
                self.keeper = LeaseKeeper(self.lock, lease, margin_s=self.call_budget_s).start()
            self.deliver_deferred()
            yield lease
        finally:
            if lease is not None and self.keeper is not None:
                with self.shielded():
                    self.keeper.stop()
                    lost = self.keeper.lost is not None
                    self.keeper = None
                    if not lost:
                        try:
                            self.lock.release(lease)
                        except Exception as exc:  # pylint: disable=broad-except  # it expires anyway
                            log.warning("could not release the deploy lock %s: %s", key, exc)

    def fence(self) -> None:
        if self.keeper is not None:
            self.keeper.check()

    @property
    def aws(self) -> CloudGateway:
        fenced: CloudGateway = Fenced(self.gateway, self.fence)
        return fenced

    # Records, progress and Slack ----------------------------------------------------------------
    def record(self, lease: Lease, state: DeployState, phase: Phase, message: str) -> None:
        self.fence()
        self.current = state
        before, events = state.phase, len(state.events)
        state.transition(self.clock.now(), phase, message)
        self.progress(f"[{state.environment}/{state.service}] {phase}: {message}")
        try:
            self.lock.save(lease, state)
        except BaseException:
            # Not recorded (or not known to be): the local state stays where the record was, so a
            # rollback that follows starts from a phase the state machine can leave.
            state.phase = before
            del state.events[events:]
            raise

    def note(self, lease: Optional[Lease], state: DeployState, message: str) -> None:
        self.current = state
        state.note(self.clock.now(), message)
        self.progress(f"[{state.environment}/{state.service}] {state.phase}: {message}")
        if lease is not None:
            self.lock.save(lease, state)

    def notify(self, text: str, color: str, fields: Optional[dict[str, str]] = None) -> None:
        if self.notifier is None:
            return
        try:
            self.notifier.send(text, color, fields)
            self.notifications.append(text)
        except Exception as exc:  # pylint: disable=broad-except  # a lost notification never changes an outcome
            log.error("slack notification failed: %s", exc)
            self.notifications.append(f"FAILED TO SEND: {text} ({exc})")

    @contextlib.contextmanager
    def shielded(self) -> Iterator[None]:
        """SIGINT/SIGTERM inside are deferred (see the module docstring)."""
        self.shield_depth += 1
        try:
            yield
        finally:
            self.shield_depth -= 1

    def interrupt(self, signal_name: str) -> None:
        """The signal handler's decision: interrupt now, or note the signal for later."""
        if self.shield_depth > 0 or self.interrupted:
            self.deferred_signals.append(signal_name)
            return
        self.interrupted = True
        raise Interrupted(signal_name)

    def deliver_deferred(self) -> None:
        """A signal noted during a shielded step that was not a rollback interrupts the run now."""
        if self.deferred_signals and not self.interrupted and self.shield_depth == 0:
            self.interrupted = True
            raise Interrupted(self.deferred_signals[0])

    # Retries for recovery steps ----------------------------------------------------------------
    def persist(self, what: str, step: Callable[[], T], deadline: float) -> T:
        """Run a recovery step until it succeeds or ``deadline`` passes (LockLost is never retried)."""
        delay = max(0.05, min(2.0, self.waits.poll_s))
        while True:
            try:
                return step()
            except GatewayError as exc:  # (LockLost and DeployFailed are never retried)
                if self.clock.now() + delay > deadline:
                    raise GatewayError(f"{what}: gave up: {exc}") from None
                self.progress(f"  {what} failed, retrying in {delay:.1f} s: {exc}")
                self.clock.sleep(delay)
                delay = min(delay * 2, 30.0)

    # Waits --------------------------------------------------------------------------------------
    def _status(self, cluster: str, service: str, errors: list[str]) -> Optional[ServiceStatus]:
        try:
            status = self.gateway.service_status(cluster, service)
        except GatewayError as exc:
            errors.append(str(exc))
            if len(errors) >= self.waits.max_poll_errors:
                raise DeployFailed(
                    f"cannot read the state of {service}: {len(errors)} errors in a row, last: {exc}"
                ) from None
            return None
        errors.clear()
        return status

    def wait_for_rollout(
        self,
        cluster: str,
        service: str,
        task_definition: str,
        target_group: Optional[str],
        timeout_s: Optional[float] = None,
    ) -> ServiceStatus:
        """Until ECS finished *our* deployment and the load balancer calls every task healthy.

        ECS's circuit breaker rolling the service back, or any deployment failure, raises with ECS's
        own reason; so does the timeout, with the last state seen.
        """
        timeout = self.waits.rollout_timeout_s if timeout_s is None else timeout_s
        deadline = self.clock.now() + timeout
        last = "no status yet"
        errors: list[str] = []
        while True:
            self.fence()
            status = self._status(cluster, service, errors)
            if status is not None:
                if not status.exists:
                    raise DeployFailed(f"ECS service {service} does not exist in cluster {cluster}")
                done, last = self._rollout_done(status, service, task_definition, target_group)
                if done:
                    return status
            else:
                last = f"status unavailable: {errors[-1]}"
            if self.clock.now() >= deadline:
                raise DeployFailed(f"{service} not stable after {timeout:.0f} s: {last}")
            self.clock.sleep(self.waits.poll_s)

    def _rollout_done(
        self,
        status: ServiceStatus,
        service: str,
        task_definition: str,
        target_group: Optional[str],
        strict: bool = False,
    ) -> tuple[bool, str]:
        ours = [d for d in status.deployments if d.task_definition == task_definition]
        primary = status.primary
        failed = next((d for d in ours if d.rollout_state == "FAILED"), None)
        if failed is not None:
            raise DeployFailed(
                f"ECS deployment of {task_definition} failed on {service}: "
                f"{failed.rollout_reason or 'no reason given'} ({failed.failed_tasks} failed tasks)"
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
        if primary is None or primary.task_definition != task_definition:
            return False, "our deployment is not primary yet"
        drained = len(status.deployments) == 1
        done = primary.rollout_state == "COMPLETED" and primary.running >= primary.desired and drained
        health: list[str] = []
        if target_group and done:
            try:
                health = self.gateway.target_health(target_group)
            except GatewayError as exc:
                if strict:  # "could not tell" is not "not ready"
                    raise
                return False, f"target health unavailable: {exc}"
        healthy = sum(1 for h in health if h == "healthy")
        if done and (target_group is None or (health and healthy == len(health) and healthy >= primary.desired)):
            return True, "done"
        return False, (
            f"rolloutState={primary.rollout_state}, running {primary.running}/{primary.desired}, "
            f"{len(status.deployments)} deployment(s), targets {health or 'not checked'}"
        )

    def is_ready(self, cluster: str, service: str, want: Revision, target_group: Optional[str]) -> tuple[bool, str]:
        """Does ``service`` run ``want.desired`` healthy tasks of ``want.task_definition`` now?"""
        status = self.gateway.service_status(cluster, service)
        if not status.exists:
            return False, f"{service} does not exist"
        if status.task_definition != want.task_definition:
            return False, f"{service} runs {status.task_definition}, not {want.task_definition}"
        if status.desired < want.desired:
            return False, f"{service} wants {status.desired} task(s), needs {want.desired}"
        done, detail = self._rollout_done(status, service, want.task_definition, target_group, strict=True)
        return done, detail

    def make_ready(self, cluster: str, service: str, want: Revision, target_group: Optional[str]) -> None:
        """Scale ``service`` up to ``want`` (if it is not there) and wait until it is healthy."""
        ready, detail = self.is_ready(cluster, service, want, target_group)
        if ready:
            return
        status = self.gateway.service_status(cluster, service)
        self.progress(f"  {service}: {detail}; scaling to {want.describe()}")
        self.aws.update_service(
            cluster,
            service,
            want.task_definition if status.task_definition != want.task_definition else None,
            max(want.desired, status.desired),
        )
        self.wait_for_rollout(cluster, service, want.task_definition, target_group)
