"""Keeping secrets out of logs, reports and JSON output.

A :class:`Redactor` knows the secret *values* of this process (tokens, webhook URLs, keys, passwords
inside URLs) and replaces each occurrence with ``***``. It is applied where text leaves the process:
a logging filter on the root handler (so third-party loggers are covered too), and the functions
that print or write reports.

    >>> r = Redactor(["s3cr3t"])
    >>> r.redact("token=s3cr3t; again s3cr3t")
    'token=***; again ***'
    >>> redact_url("postgresql://app:hunter2@db:5432/app")  # pragma: allowlist secret
    'postgresql://app:***@db:5432/app'
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, Optional

__all__ = ["SECRET_ENV_VARS", "Redactor", "redact_url"]

# Environment variables whose values are secrets wherever they appear.
SECRET_ENV_VARS = (
    "NFC_DEPLOY_SLACK_WEBHOOK",
    "NFC_DEPLOY_GRAFANA_API_KEY",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "GITHUB_TOKEN",
    "CODECOV_TOKEN",
    "NFC_POSTGRES_DSN",
)

_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]+)(?=@)")
_KV_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<pw>'[^']*'|\S+)", re.IGNORECASE)


def redact_url(text: str) -> str:
    """Passwords in a URL's userinfo (after ``user:``, before ``@host``) and ``password=...`` pairs become
    ``***``."""
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + "***", text)
    return _KV_PASSWORD.sub(lambda m: m.group("head") + "***", text)


class Redactor(logging.Filter):
    # Shorter values are too likely to occur by chance (and too weak to be real secrets).
    MIN_LENGTH = 6

    def __init__(self, secrets: Iterable[Optional[str]] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    @classmethod
    def from_environment(cls, environ: Optional[Mapping[str, str]] = None) -> "Redactor":
        source = os.environ if environ is None else environ
        return cls(source.get(name) for name in SECRET_ENV_VARS)

    def add(self, secret: Optional[str]) -> None:
        if secret and len(secret) >= self.MIN_LENGTH:
            self._secrets.add(secret)
            # A webhook or API URL leaks through its path too (the secret part).
            if "://" in secret:
                path = secret.split("://", 1)[1].partition("/")[2]
                if len(path) >= self.MIN_LENGTH:
                    self._secrets.add(path)

    def redact(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, "***")
        return redact_url(text)

    def redact_obj(self, value: Any) -> Any:
        """Redact every string inside a JSON-like structure."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {k: self.redact_obj(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.redact_obj(v) for v in value]
        return value

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True

    def install(self) -> None:
        """Filter every handler of the root logger (call after logging is configured)."""
        for handler in logging.getLogger().handlers:
            handler.addFilter(self)
