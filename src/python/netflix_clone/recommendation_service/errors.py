"""Every failure recommendation-service can end in, on the platform's exit-code table (README "Exit codes").

=====  =========================================================================================
exit   when
=====  =========================================================================================
0      done
1      failed: PostgreSQL, Redis or the S3 registry unreachable (after the retries), an upload that
       did not complete; nothing half-written is visible (CURRENT moves last)
2      rejected: a bad flag or ``NFC_RECO_*`` variable, viewing history or a catalog that cannot be
       read or has no usable rows, a model directory without a (readable, consistent) model, a
       registry location that is not ``s3://bucket/prefix`` where one is required
=====  =========================================================================================

HTTP requests never see these: an unknown user or title is a 404 (:class:`UnknownUser`,
:class:`UnknownItem`), the rest of the HTTP errors are in ``serving/http``.

    >>> int(ModelError("no model in var/models").exit_code), int(RegistryError("S3 unreachable").exit_code)
    (2, 1)
    >>> isinstance(UnknownUser("u1"), KeyError)
    True
"""

from __future__ import annotations

from netflix_clone.platform.errors import Failed, PlatformError, UsageError

__all__ = [
    "HistoryError",
    "ModelError",
    "RecoError",
    "RegistryError",
    "RegistryUriError",
    "TrainingInputError",
    "UnknownItem",
    "UnknownUser",
]


class RecoError(PlatformError):
    """Base of recommendation-service's expected failures (one line, never a traceback)."""


class ModelError(RecoError, UsageError, ValueError):
    """A model whose parts do not fit together, or a model directory that cannot be read (exit 2)."""


class HistoryError(RecoError, UsageError, ValueError):
    """Viewing history or a catalog that cannot be read, or holds values out of range (exit 2)."""


class TrainingInputError(RecoError, UsageError, ValueError):
    """History that cannot make or evaluate a model: no usable rows, a split without test users (exit 2)."""


class RegistryError(RecoError, Failed):
    """The S3 registry cannot be read or written (unreachable, missing objects, checksum mismatch): exit 1."""


class RegistryUriError(RecoError, UsageError, ValueError):
    """A registry location that is not ``s3://bucket/prefix`` where one is required (exit 2)."""


class UnknownUser(KeyError):
    """A user the model does not know (HTTP 404 on scores; top-N falls back to cold start instead)."""


class UnknownItem(KeyError):
    """A title the model does not know (HTTP 404)."""
