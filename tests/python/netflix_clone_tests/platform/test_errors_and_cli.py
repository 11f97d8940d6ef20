"""The one main() wrapper: every failure is one line and a documented exit code, from the outside."""

from __future__ import annotations

import argparse
import json
import socket
from typing import Optional

import pytest

from netflix_clone.platform.cli import ArgumentParser, run
from netflix_clone.platform.connections import connect_postgres, connect_redis
from netflix_clone.platform.errors import EXIT_CODE_TABLE, Busy, ExitCode, Partial
from netflix_clone.platform.settings import Field, ServiceSettings, SettingsConfigDict, add_option, shared


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NFC_DEMO_")

    port: int = Field(8000, ge=1, le=65535, description="HTTP port")
    redis_url: Optional[str] = shared("NFC_REDIS_URL", None, "Redis URL")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _parser(settings: DemoSettings) -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="demo")
    add_option(parser, "--log-level", settings, "log_level")
    sub = parser.add_subparsers()
    p = sub.add_parser("serve")
    add_option(p, "--port", settings, "port", type=int)
    add_option(p, "--redis-url", settings, "redis_url")
    p.add_argument("--json", action="store_true")

    def serve(args: argparse.Namespace) -> int:
        if args.redis_url:
            connect_redis(args.redis_url, attempts=1, socket_timeout=0.5)
        print(json.dumps({"port": args.port}))
        return 0

    p.set_defaults(func=serve)
    for name, error in (("busy", Busy("lock held by run 7")), ("partial", Partial("dashboards failed"))):
        q = sub.add_parser(name)
        q.add_argument("--json", action="store_true")

        def raiser(args: argparse.Namespace, error: Exception = error) -> int:
            raise error

        q.set_defaults(func=raiser)
    q = sub.add_parser("bug")
    q.set_defaults(func=lambda args: 1 / 0)
    return parser


def _run(argv: list[str]) -> int:
    return run("demo", argv, _parser, DemoSettings)


def test_flags_default_from_the_environment_and_help_names_the_variables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NFC_DEMO_PORT", "9001")
    assert _run(["serve"]) == 0
    assert json.loads(capsys.readouterr().out) == {"port": 9001}
    assert _run(["serve", "--port", "9002"]) == 0  # the flag wins
    assert json.loads(capsys.readouterr().out) == {"port": 9002}
    with pytest.raises(SystemExit) as done:
        _run(["serve", "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "(env NFC_DEMO_PORT, default 8000)" in text and "(env NFC_REDIS_URL, default unset)" in text


@pytest.mark.parametrize(
    ("env", "argv", "code", "line"),
    [
        ({"NFC_DEMO_PORT": "eighty"}, ["serve"], 2, "NFC_DEMO_PORT: Input should be a valid integer"),
        ({"NFC_DEMO_PORT": "70000"}, ["serve"], 2, "NFC_DEMO_PORT: Input should be less than or equal to 65535"),
        ({"NFC_DEMO_PROT": "1"}, ["serve"], 2, "NFC_DEMO_PROT: unknown setting"),
        ({"NFC_LOG_LEVEL": "loud"}, ["serve"], 2, "NFC_LOG_LEVEL: Input should be 'DEBUG'"),
        ({}, ["serve", "--port", "x"], 2, "argument --port: invalid int value: 'x' (see demo serve --help)"),
        ({}, ["nope"], 2, "invalid choice: 'nope'"),
        ({}, ["busy"], 3, "demo: failed: lock held by run 7"),
        ({}, ["partial"], 4, "demo: failed: dashboards failed"),
    ],
)
def test_every_failure_is_one_line_and_its_exit_code(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    argv: list[str],
    code: int,
    line: str,
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert _run(argv) == code
    err = capsys.readouterr().err
    assert line in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_an_unreachable_backend_is_exit_1_in_one_line_and_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"redis://:s3cr3t-pw@127.0.0.1:{_closed_port()}/0"
    assert _run(["serve", "--redis-url", url]) == ExitCode.FAILED
    err = capsys.readouterr().err
    assert err.count("\n") >= 1 and "Traceback" not in err
    assert "Redis at 127.0.0.1" in err and "unreachable after 1 attempt" in err and "s3cr3t-pw" not in err
    assert _run(["serve", "--redis-url", url, "--json"]) == ExitCode.FAILED
    payload = json.loads(capsys.readouterr().out)
    assert payload["outcome"] == "failed" and payload["exit_code"] == 1 and "unreachable" in payload["reason"]


def test_a_bug_keeps_its_traceback_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["bug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError" in err and "internal error (a bug" in err


def test_the_exit_code_table_lists_every_code_once() -> None:
    rows = EXIT_CODE_TABLE.splitlines()[2:]
    assert [int(r.split("|")[1]) for r in rows] == [c.value for c in ExitCode]


def test_a_multi_line_backend_error_is_still_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """libpq's "connection refused" spans lines ("Is the server running on that host ..."): one line anyway."""
    port = _closed_port()

    def parser(settings: DemoSettings) -> argparse.ArgumentParser:
        p = ArgumentParser(prog="demo")
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=lambda args: connect_postgres(f"host=127.0.0.1 port={port} dbname=x", attempts=1))
        return p

    assert run("demo", [], parser, DemoSettings) == ExitCode.FAILED
    err = capsys.readouterr().err
    assert f"PostgreSQL at 127.0.0.1:{port}" in err and "Traceback" not in err and len(err.splitlines()) == 1, err
    assert run("demo", ["--json"], parser, DemoSettings) == ExitCode.FAILED
    assert "\n" not in json.loads(capsys.readouterr().out)["reason"]
