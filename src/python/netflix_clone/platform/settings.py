"""Typed settings read from environment variables, with errors that name the variable at fault.

One scheme for every service: a service's own settings are ``NFC_<SERVICE>_<FIELD>`` (its class sets
``env_prefix``), and the settings every service shares keep one name everywhere: ``NFC_LOG_LEVEL``,
``NFC_POSTGRES_DSN``, ``NFC_REDIS_URL``, ``NFC_CASSANDRA_HOSTS`` (declared with :func:`shared`).
Command-line flags default from the settings (:func:`add_option`), so ``--help`` names each variable
and its default, and the README's tables are generated from the same classes (:func:`env_table`).

    >>> class Demo(ServiceSettings):
    ...     model_config = SettingsConfigDict(env_prefix="NFC_DEMO_")
    ...     port: int = Field(8000, ge=1, le=65535, description="HTTP port")
    ...     redis_url: Optional[str] = shared("NFC_REDIS_URL", None, "Redis URL")
    >>> load_settings(Demo, {"NFC_DEMO_PORT": "9000", "NFC_LOG_LEVEL": "debug"}).port
    9000
    >>> try:
    ...     load_settings(Demo, {"NFC_DEMO_PORT": "eighty"})
    ... except SettingsError as exc:
    ...     print(exc.problems[0])
    NFC_DEMO_PORT: Input should be a valid integer, unable to parse string as an integer (got 'eighty')
    >>> [v.name for v in env_vars(Demo)]
    ['NFC_LOG_LEVEL', 'NFC_DEMO_PORT', 'NFC_REDIS_URL']
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Optional, TypeVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from netflix_clone.platform.errors import UsageError
from netflix_clone.platform.redaction import redact_url

__all__ = [
    "EnvVar",
    "Field",
    "LogLevel",
    "ServiceSettings",
    "SettingsConfigDict",
    "SettingsError",
    "add_option",
    "env_name",
    "env_table",
    "env_vars",
    "load_settings",
    "shared",
]

SettingsT = TypeVar("SettingsT", bound=BaseSettings)
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class SettingsError(UsageError):
    """Raised when the environment does not describe a valid configuration (exit 2)."""

    def __init__(self, settings_name: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"invalid {settings_name} environment: " + "; ".join(problems))


def shared(env: str, default: Any, description: str, **kwargs: Any) -> Any:
    """A setting with one name across services (``NFC_REDIS_URL``), not under the service prefix."""
    return Field(default, validation_alias=env, description=description, **kwargs)


class ServiceSettings(BaseSettings):
    """Base of every service's settings class: the log level every service reads."""

    model_config = SettingsConfigDict(populate_by_name=True, extra="forbid")

    log_level: LogLevel = shared(
        "NFC_LOG_LEVEL", "WARNING", "log level (DEBUG, INFO, WARNING, ERROR); JSON lines on stderr"
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


def env_name(cls: type[BaseSettings], field: str) -> str:
    prefix = str(cls.model_config.get("env_prefix", ""))
    info = cls.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, str):
        return alias.upper()
    return f"{prefix}{field}".upper()


@dataclass(frozen=True)
class EnvVar:
    name: str
    field: str
    default: Any
    description: str
    required: bool


def env_vars(cls: type[BaseSettings]) -> list[EnvVar]:
    """Every variable ``cls`` reads, in declaration order (base class first)."""
    return [
        EnvVar(
            env_name(cls, name),
            name,
            None if info.is_required() else info.default,
            info.description or "",
            info.is_required(),
        )
        for name, info in cls.model_fields.items()
    ]


def _shown(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    return redact_url(str(value)) or '""'


def env_table(cls: type[BaseSettings]) -> str:
    """The Markdown table of ``cls``'s variables, as the README shows it (tested to match)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for var in env_vars(cls):
        default = "required" if var.required else f"`{_shown(var.default)}`"
        rows.append(f"| `{var.name}` | {default} | {var.description} |")
    return "\n".join(rows)


def load_settings(cls: type[SettingsT], environ: Optional[Mapping[str, str]] = None) -> SettingsT:
    """Build ``cls`` from the environment (or ``environ``) and report every invalid variable at once.

    Pydantic's own message names model fields; operators set environment variables, so the error is
    rewritten in terms of those. A variable under the class's prefix that it does not know is an
    error too: a typo must not silently fall back to a default.
    """
    source = os.environ if environ is None else environ
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    known = {env_name(cls, name): name for name in cls.model_fields}
    values = {field: source[env] for env, field in known.items() if env in source}
    unknown = sorted(k for k in source if prefix and k.upper().startswith(prefix) and k.upper() not in known)
    problems: list[str] = [f"{k}: unknown setting (known: {', '.join(sorted(known))})" for k in unknown]
    try:
        # Validated from the collected values alone, so an explicit `environ` fully replaces os.environ.
        settings = cls.model_validate(values)
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            env = env_name(cls, field) if field in cls.model_fields else cls.__name__
            shown = source.get(env)
            got = f" (got {redact_url(shown)!r})" if shown is not None else ""
            problems.append(f"{env}: {error['msg']}{got}")
        raise SettingsError(cls.__name__, problems) from None
    if problems:
        raise SettingsError(cls.__name__, problems)
    return settings


def add_option(parser: Any, flag: str, settings: BaseSettings, field: str, **kwargs: Any) -> argparse.Action:
    """``parser.add_argument(flag, ...)`` defaulting from ``settings.<field>``; the help names the
    environment variable and its default, e.g. ``HTTP port (env NFC_RECO_PORT, default 8000)``."""
    cls = type(settings)
    info = cls.model_fields[field]
    text = kwargs.pop("help", None) or info.description or ""
    default = getattr(settings, field)
    if hasattr(default, "get_secret_value"):
        default = default.get_secret_value()
    text = f"{text} (env {env_name(cls, field)}, default {_shown(info.default)})"
    # argparse formats help with %-interpolation.
    return parser.add_argument(  # type: ignore[no-any-return]
        flag, default=default, help=text.replace("%", "%%"), **kwargs
    )
