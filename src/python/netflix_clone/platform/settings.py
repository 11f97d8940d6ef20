"""Typed settings read from environment variables, with errors that name the variable at fault."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Optional, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

__all__ = ["SettingsError", "load_settings"]

SettingsT = TypeVar("SettingsT", bound=BaseSettings)


class SettingsError(ValueError):
    """Raised when the environment does not describe a valid configuration."""

    def __init__(self, settings_name: str, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid {settings_name} configuration:\n{lines}")


def _env_name(cls: type[BaseSettings], field: str) -> str:
    prefix = str(cls.model_config.get("env_prefix", ""))
    info = cls.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, str):
        return alias.upper()
    return f"{prefix}{field}".upper()


def load_settings(cls: type[SettingsT], environ: Optional[Mapping[str, str]] = None) -> SettingsT:
    """Build ``cls`` from the environment (or ``environ``) and report every invalid variable at once.

    Pydantic's own message names model fields; operators set environment variables, so the error is
    rewritten in terms of those.
    """
    source = os.environ if environ is None else environ
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    known = {_env_name(cls, name): name for name in cls.model_fields}
    values = {field: source[env] for env, field in known.items() if env in source}
    unknown = sorted(k for k in source if prefix and k.upper().startswith(prefix) and k.upper() not in known)
    problems: list[str] = [f"{k}: unknown setting (known: {', '.join(sorted(known))})" for k in unknown]
    try:
        # Validated from the collected values alone, so an explicit `environ` fully replaces os.environ.
        settings = cls.model_validate(values)
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            env = _env_name(cls, field) if field else cls.__name__
            shown = source.get(env)
            got = f" (got {shown!r})" if shown is not None else ""
            problems.append(f"{env}: {error['msg']}{got}")
        raise SettingsError(cls.__name__, problems) from None
    if problems:
        raise SettingsError(cls.__name__, problems)
    return settings
