from __future__ import annotations

from typing import Optional

import pytest
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from netflix_clone.platform.settings import SettingsError, load_settings


class ExampleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EXAMPLE_")

    port: int = Field(default=8080, ge=1, le=65535)
    redis_url: Optional[str] = None
    name: str


def test_reads_prefixed_variables_with_types_and_defaults() -> None:
    settings = load_settings(ExampleSettings, {"EXAMPLE_NAME": "svc", "EXAMPLE_PORT": "9000"})
    assert settings.name == "svc"
    assert settings.port == 9000
    assert settings.redis_url is None


def test_every_problem_is_reported_with_the_variable_name() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(ExampleSettings, {"EXAMPLE_PORT": "eighty", "EXAMPLE_PROT": "1"})
    message = str(info.value)
    assert "EXAMPLE_PORT" in message and "'eighty'" in message
    assert "EXAMPLE_NAME" in message and "required" in message.lower()
    assert "EXAMPLE_PROT: unknown setting" in message
    assert len(info.value.problems) == 3


def test_range_validation_names_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"EXAMPLE_PORT: .*less than or equal to 65535"):
        load_settings(ExampleSettings, {"EXAMPLE_NAME": "x", "EXAMPLE_PORT": "70000"})


def test_reads_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXAMPLE_NAME", "from-env")
    monkeypatch.setenv("EXAMPLE_REDIS_URL", "redis://127.0.0.1:6379/1")
    settings = load_settings(ExampleSettings)
    assert settings.name == "from-env"
    assert settings.redis_url == "redis://127.0.0.1:6379/1"
