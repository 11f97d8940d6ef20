"""The README's "Adding a service" template, run as written: its three blocks become a package, and the
shared settings, errors, exit codes, --help, --json and metrics it promises are checked from outside."""

from __future__ import annotations

import importlib
import json
import re
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import netflix_clone
from netflix_clone.platform import cli as _cli  # noqa: F401  (the template imports these by name)
from netflix_clone.platform import connections as _connections  # noqa: F401
from netflix_clone.platform.metrics import naming_problems
from netflix_clone.platform.settings import env_table

README = Path("README.md")
BLOCK = re.compile(r"<!-- template: (\S+) -->\n```python\n(.*?)\n```", re.S)


def _blocks() -> dict[str, str]:
    return dict(BLOCK.findall(README.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    root = tmp_path_factory.mktemp("template")
    package = root / "example_service"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    for name, code in _blocks().items():
        (package / name).write_text(code + "\n", encoding="utf-8")
    netflix_clone.__path__.append(str(root))
    try:
        yield importlib.import_module("netflix_clone.example_service.cli")
    finally:
        netflix_clone.__path__.remove(str(root))
        for name in [m for m in sys.modules if m.startswith("netflix_clone.example_service")]:
            del sys.modules[name]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NFC_LOG_LEVEL", "NFC_REDIS_URL", "NFC_EXAMPLE_PORT", "NFC_EXAMPLE_GREETING"):
        monkeypatch.delenv(name, raising=False)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_readme_holds_the_three_files() -> None:
    assert set(_blocks()) == {"settings.py", "errors.py", "cli.py"}


def test_settings_flags_and_help_come_from_one_class(
    service: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert service.main(["hello", "ada"]) == 0
    assert capsys.readouterr().err.strip() == "hello, ada"
    monkeypatch.setenv("NFC_EXAMPLE_GREETING", "bonjour")
    assert service.main(["hello", "ada"]) == 0
    assert capsys.readouterr().err.strip() == "bonjour, ada"
    assert service.main(["hello", "ada", "--greeting", "hi"]) == 0  # the flag wins over the variable
    assert capsys.readouterr().err.strip() == "hi, ada"
    with pytest.raises(SystemExit) as exited:
        service.main(["hello", "--help"])
    assert exited.value.code == 0
    assert "(env NFC_EXAMPLE_GREETING, default unset)" in " ".join(capsys.readouterr().out.split())
    with pytest.raises(SystemExit):
        service.main(["--help"])
    assert "(env NFC_LOG_LEVEL, default WARNING)" in " ".join(capsys.readouterr().out.split())
    table = env_table(importlib.import_module("netflix_clone.example_service.settings").ExampleSettings)
    assert "| `NFC_EXAMPLE_PORT` | `8090` | HTTP port |" in table and "`NFC_REDIS_URL`" in table


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"NFC_EXAMPLE_PORT": "eighty"}, "NFC_EXAMPLE_PORT: Input should be a valid integer"),
        ({"NFC_EXAMPLE_PORT": "70000"}, "NFC_EXAMPLE_PORT: Input should be less than or equal to 65535"),
        ({"NFC_EXAMPLE_PROT": "80"}, "NFC_EXAMPLE_PROT: unknown setting"),
        ({"NFC_LOG_LEVEL": "loud"}, "NFC_LOG_LEVEL: Input should be"),
    ],
)
def test_a_bad_variable_is_one_line_naming_it_exit_2(
    service: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    named: str,
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert service.main(["hello", "ada"]) == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err and err.count("\n") == 1


def test_rejected_input_and_unreachable_backend_follow_the_exit_code_table(
    service: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert service.main(["hello", "not a name", "--json"]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {
        "outcome": "rejected",
        "exit_code": 2,
        "reason": "name must be an identifier, got 'not a name'",
    }
    assert "Traceback" not in captured.err

    port = _closed_port()
    assert service.main(["ping", "--redis-url", f"redis://127.0.0.1:{port}/0", "--json"]) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["outcome"] == "failed" and report["exit_code"] == 1
    assert f"Redis at 127.0.0.1:{port}/0 is unreachable" in report["reason"]
    assert "Traceback" not in captured.err

    assert service.main(["ping", "--redis-url", "redis://127.0.0.1:6379/0"]) == 0  # the real server
    assert service.main(["bogus"]) == 2


def test_metrics_include_process_metrics_and_follow_the_naming_rules(
    service: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert service.main(["hello", "ada"]) == 0
    capsys.readouterr()
    assert service.main(["metrics"]) == 0
    text = capsys.readouterr().out
    assert re.search(r"^example_greetings_total [1-9]", text, re.M)
    assert "process_cpu_seconds_total" in text or "python_info" in text
    assert not naming_problems(service.REGISTRY, "example")
