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


def test_shared_variables_keep_one_name_and_the_table_lists_them() -> None:
    from netflix_clone.platform.settings import ServiceSettings, env_table, shared

    class Svc(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="NFC_SVC_")

        workers: int = Field(2, ge=1, description="worker processes")
        postgres_dsn: Optional[str] = shared("NFC_POSTGRES_DSN", None, "PostgreSQL DSN")

    settings = load_settings(Svc, {"NFC_SVC_WORKERS": "3", "NFC_POSTGRES_DSN": "dbname=x", "NFC_LOG_LEVEL": "info"})
    assert (settings.workers, settings.postgres_dsn, settings.log_level) == (3, "dbname=x", "INFO")
    with pytest.raises(SettingsError, match="NFC_SVC_POSTGRES_DSN: unknown setting"):
        load_settings(Svc, {"NFC_SVC_POSTGRES_DSN": "dbname=x"})  # the shared name, not a prefixed one
    table = env_table(Svc).splitlines()
    assert table[2:] == [
        "| `NFC_LOG_LEVEL` | `WARNING` | log level (DEBUG, INFO, WARNING, ERROR); JSON lines on stderr |",
        "| `NFC_SVC_WORKERS` | `2` | worker processes |",
        "| `NFC_POSTGRES_DSN` | `unset` | PostgreSQL DSN |",
    ]


def test_a_password_in_a_bad_value_is_not_echoed() -> None:
    with pytest.raises(SettingsError) as caught:
        # pragma: allowlist nextline secret
        load_settings(ExampleSettings, {"EXAMPLE_NAME": "x", "EXAMPLE_PORT": "postgresql://u:hunter22@h/db"})
    assert "hunter22" not in str(caught.value) and "EXAMPLE_PORT" in str(caught.value)
