"""Everything a deploy can end in, and the exit code each one gets.

=====  =====================================================================================
code   meaning
=====  =====================================================================================
0      done (deployed; rolled back on request; nothing to roll back)
1      failed, and the service is on its known-good revision (rolled back, or never changed)
2      rejected: bad usage or configuration, or nothing to act on; nothing was changed
3      the deploy lock is held by another run, or this run lost it; this run changed nothing more
4      deployed, but a post-deploy step (CDN invalidation, cache warm-up, dashboards) failed
5      failed and the rollback could not complete: the report says where it stopped and the
       command that finishes it (``deploy rollback``); the lock is released for that command
=====  =====================================================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from netflix_clone.platform.errors import Busy, ExitCode, Failed, PlatformError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from netflix_clone.deploy.domain.state import DeployState

__all__ = [
    "EXIT_FAILED",
    "EXIT_LOCKED",
    "EXIT_OK",
    "EXIT_POST_DEPLOY",
    "EXIT_ROLLBACK_INCOMPLETE",
    "EXIT_USAGE",
    "DeployError",
    "DeployFailed",
    "GatewayError",
    "IllegalTransition",
    "Interrupted",
    "LockHeld",
    "LockLost",
    "NotifyError",
    "Rejected",
    "StrategyError",
]

# The platform's table (README "Exit codes"), under the names the deploy code reads best with.
EXIT_OK = ExitCode.OK
EXIT_FAILED = ExitCode.FAILED
EXIT_USAGE = ExitCode.USAGE
EXIT_LOCKED = ExitCode.BUSY
EXIT_POST_DEPLOY = ExitCode.PARTIAL
EXIT_ROLLBACK_INCOMPLETE = ExitCode.RECOVERY_INCOMPLETE


class DeployError(PlatformError):
    """Base of the expected failures: each is printed as one line, never as a traceback."""

    exit_code = EXIT_FAILED


class Rejected(DeployError, UsageError):
    """Bad input or configuration found before anything was changed."""

    exit_code = EXIT_USAGE


class StrategyError(Rejected, ValueError):
    """A traffic-shifting plan that cannot be followed (steps not rising to 100, ...)."""


class IllegalTransition(DeployError):
    """A phase change the state machine does not allow (a bug, or a record changed behind our back)."""


class GatewayError(DeployError):
    """An AWS call failed; ``user_error`` marks the caller's fault (bad ARN, no such table: exit 2)."""

    def __init__(self, message: str, user_error: bool = False, code: str = "") -> None:
        self.user_error = user_error
        self.code = code
        self.exit_code = EXIT_USAGE if user_error else EXIT_FAILED
        super().__init__(message)


class NotifyError(Failed):
    """Slack or Grafana did not take a notification (never fatal to a deploy: reported)."""


class LockHeld(DeployError, Busy):
    exit_code = EXIT_LOCKED

    def __init__(self, key: str, owner: str, expires_at: float, now: float) -> None:
        self.key = key
        self.owner = owner
        self.expires_at = expires_at
        super().__init__(
            f"deploy lock {key} is held by {owner} for another {max(0.0, expires_at - now):.0f} s; "
            "wait for it, or if that run is dead: `deploy status` then `deploy break-lock`"
        )


class LockLost(DeployError, Busy):
    """Our lease expired or was taken: another run may be acting, so this one must not."""

    exit_code = EXIT_LOCKED

    def __init__(self, key: str, detail: str) -> None:
        self.key = key
        self.detail = detail
        super().__init__(f"lost the deploy lock {key} ({detail}); stopped without changing anything")


class DeployFailed(DeployError):
    """The operation did not succeed; ``reason`` says why.

    ``restored`` tells whether the service is back on its known-good revision (exit 1) or the
    rollback could not complete (exit 5).
    """

    def __init__(self, reason: str, state: Optional["DeployState"] = None, restored: bool = True) -> None:
        self.reason = reason
        self.state = state
        self.restored = restored
        self.exit_code = EXIT_FAILED if restored else EXIT_ROLLBACK_INCOMPLETE
        super().__init__(reason)


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: unwinds like KeyboardInterrupt, so broad ``except Exception``
    blocks cannot swallow it; the rollout catches it and restores the known-good colour."""

    def __init__(self, signal_name: str) -> None:
        self.signal_name = signal_name
        super().__init__(f"interrupted by {signal_name}")
