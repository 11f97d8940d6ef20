"""The failures every command can end in, and the one exit-code table they map to.

Each service's ``errors`` module subclasses these; :func:`netflix_clone.platform.cli.run` turns any of
them into one line on stderr (and a JSON object with ``--json``) and its exit code, never a
traceback. Anything else escaping a command is a bug: it is reported with its traceback and exit 1.

    >>> BackendUnavailable("Redis", "127.0.0.1:6399/0", 3, ConnectionRefusedError(111, "refused")).exit_code
    <ExitCode.FAILED: 1>
    >>> print(EXIT_CODE_TABLE.splitlines()[2])
    | 0 | ok | done |
"""

from __future__ import annotations

import enum

__all__ = [
    "EXIT_CODE_TABLE",
    "BackendUnavailable",
    "Busy",
    "ExitCode",
    "Failed",
    "Partial",
    "PlatformError",
    "RecoveryIncomplete",
    "UsageError",
]


class ExitCode(enum.IntEnum):
    """Exit statuses shared by every command (deploy adds nothing: 5 is listed here too)."""

    OK = 0
    FAILED = 1
    USAGE = 2
    BUSY = 3
    PARTIAL = 4
    RECOVERY_INCOMPLETE = 5
    INTERRUPTED = 130

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MEANINGS = {
    ExitCode.OK: "done",
    ExitCode.FAILED: (
        "failed: a backend was unreachable or the work could not be done; nothing half-written"
        " stays visible (deploy: the service is on its known-good revision)"
    ),
    ExitCode.USAGE: ("usage or rejected input: a bad flag, environment variable or input; nothing was changed"),
    ExitCode.BUSY: "busy: a lock or lease is held by another run (or this run lost it)",
    ExitCode.PARTIAL: "partial success: the main work is done, a follow-up step failed (named)",
    ExitCode.RECOVERY_INCOMPLETE: (
        "failed and the automatic recovery could not finish: the output names the command that does"
    ),
    ExitCode.INTERRUPTED: "interrupted by SIGINT before a recoverable point (rerun it)",
}

EXIT_CODE_TABLE = "\n".join(
    ["| exit | name | meaning |", "|---|---|---|"]
    + [f"| {code.value} | {code.name.lower()} | {code.meaning} |" for code in ExitCode]
)


class PlatformError(Exception):
    """An expected failure: one line for the operator, an exit code for CI."""

    exit_code: ExitCode = ExitCode.FAILED


class Failed(PlatformError):
    exit_code = ExitCode.FAILED


class UsageError(PlatformError):
    """Bad flags, environment or input, found before anything was changed."""

    exit_code = ExitCode.USAGE


class Busy(PlatformError):
    exit_code = ExitCode.BUSY


class Partial(PlatformError):
    exit_code = ExitCode.PARTIAL


class RecoveryIncomplete(PlatformError):
    exit_code = ExitCode.RECOVERY_INCOMPLETE


class BackendUnavailable(Failed, ConnectionError):
    """A backend (PostgreSQL, Redis, Cassandra, S3, ...) could not be reached after the retries."""

    def __init__(self, backend: str, address: str, attempts: int, cause: BaseException) -> None:
        self.backend = backend
        self.address = address
        self.attempts = attempts
        super().__init__(
            f"{backend} at {address} is unreachable after {attempts} attempt(s): "
            f"{type(cause).__name__}: {str(cause).strip()}"
        )
