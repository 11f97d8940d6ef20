"""Every failure the release tools can end in, on the platform's exit-code table (README "Exit codes").

``release`` refuses with exit 2 and names the reason (``outcome`` in its JSON: ``dirty``, ``wrong-branch``,
``nothing-to-release``, ``tag-exists``); git or Pants failing is exit 1. ``repo-settings diff`` finding drift is
exit 1 (``outcome: drift``), as a failed check.
"""

from __future__ import annotations

from netflix_clone.platform.errors import Failed, PlatformError, UsageError

__all__ = [
    "GitError",
    "GitHubError",
    "NothingToRelease",
    "PantsUnavailable",
    "ProtectionError",
    "ReleaseError",
    "ReleaseUsageError",
    "VersionError",
]


class ReleaseError(PlatformError):
    """Base of the release tools' expected failures."""


class ReleaseUsageError(ReleaseError, UsageError):
    """Bad flags, a bad protection file, no token: nothing was changed (exit 2)."""


class VersionError(ReleaseUsageError, ValueError):
    """Not a semantic version, or not one that may follow the last release."""


class ProtectionError(ReleaseUsageError, ValueError):
    """A branch-protection body GitHub would not accept, or a rule the workflows cannot satisfy."""


class NothingToRelease(ReleaseUsageError):
    """The range has no commit that changes the version."""


class GitError(ReleaseError, Failed):
    """git failed or is not there (exit 1)."""


class PantsUnavailable(ReleaseError, Failed):
    """Pants is not there or did not answer; the reason says which."""


class GitHubError(ReleaseError, Failed):
    def __init__(self, method: str, path: str, status: int, message: str, docs: str = "") -> None:
        self.status = status
        self.message = message
        hint = {
            401: " (the token is invalid or expired)",
            403: " (the token needs administration rights on the repository: a fine-grained token "
            "with Administration read/write, or a classic token with `repo`)",
        }.get(status, "")
        super().__init__(f"{method} {path}: {status} {message}{hint}" + (f" - see {docs}" if docs else ""))
