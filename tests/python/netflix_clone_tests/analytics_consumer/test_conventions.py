"""analytics-consumer on the shared conventions: settings, exit codes, --help, metric names, the pex."""

from __future__ import annotations

import argparse
import ast
import json
import re
import socket
from pathlib import Path
from typing import cast

import pytest

from netflix_clone.analytics_consumer.cli import build_parser, main
from netflix_clone.analytics_consumer.consumer import ConsumerMetrics
from netflix_clone.analytics_consumer.settings import AnalyticsSettings
from netflix_clone.platform.metrics import naming_problems
from netflix_clone.platform.settings import env_vars, load_settings
from netflix_clone.tools.analytics.cli import main as tools_main

SERVICE = Path("src/python/netflix_clone/analytics_consumer")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _outcome_lines(err: str) -> list[str]:
    """stderr without the JSON log lines (retries are logged as warnings): what a person reads."""
    return [line for line in err.strip().splitlines() if not line.startswith("{")]


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser(load_settings(AnalyticsSettings, {}))
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")  # pylint: disable=W0212
    return cast("dict[str, argparse.ArgumentParser]", sub.choices)[name]


def test_every_variable_has_a_description_and_no_old_names_remain() -> None:
    names = [v.name for v in env_vars(AnalyticsSettings)]
    assert all(v.description for v in env_vars(AnalyticsSettings))
    assert {"NFC_LOG_LEVEL", "NFC_REDIS_URL", "NFC_POSTGRES_DSN", "NFC_CASSANDRA_HOSTS"} <= set(names)
    assert all(n.startswith("NFC_ANALYTICS_") or n in ("NFC_LOG_LEVEL", "NFC_REDIS_URL", "NFC_POSTGRES_DSN",
                                                       "NFC_CASSANDRA_HOSTS") for n in names)  # fmt: skip
    for path in SERVICE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if path.name != "settings.py":
            assert "os.environ" not in text and "os.getenv" not in text, f"{path} reads the environment"
        assert not re.search(r"[\"'](ANALYTICS_|CASSANDRA_HOSTS)", text), f"{path} names an old variable"


@pytest.mark.parametrize("command", ["run", "replay", "report"])
def test_help_documents_every_option_and_variable(command: str) -> None:
    subparser = _subparser(command)
    text = subparser.format_help()
    for action in subparser._actions:  # pylint: disable=protected-access
        if action.option_strings and action.dest != "help":
            assert action.help, f"{command} {action.option_strings[0]} has no help"
    if command == "run":
        for var in env_vars(AnalyticsSettings):
            if var.name not in ("NFC_LOG_LEVEL",):
                assert var.name in " ".join(text.split()), f"run --help does not name {var.name}"


def test_a_bad_variable_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NFC_ANALYTICS_OPS_PORT", "ninety")
    assert main(["report", "--sqlite", "missing.sqlite"]) == 2
    err = capsys.readouterr().err
    assert "NFC_ANALYTICS_OPS_PORT" in err and "Traceback" not in err and len(_outcome_lines(err)) == 1


def test_an_old_variable_name_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANALYTICS_OPS_PORT", "1")
    assert load_settings(AnalyticsSettings).ops_port == 9100


def test_unreachable_redis_is_one_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    code = main(["run", "--redis-url", url, "--sqlite", str(tmp_path / "a.sqlite"), "--ops-port", "0", "--json"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in err and len(_outcome_lines(err)) == 1 and "unreachable" in err
    payload = json.loads(out)
    assert payload["outcome"] == "failed" and payload["exit_code"] == 1 and "Redis" in payload["reason"]


def test_unreachable_postgres_is_one_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "events.jsonl"
    assert tools_main(["simulate", "--sessions", "2", "--out", str(events)]) == 0
    capsys.readouterr()
    dsn = f"host=127.0.0.1 port={_closed_port()} dbname=x user=x connect_timeout=1"
    assert main(["replay", str(events), "--postgres", dsn]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(_outcome_lines(err)) == 1 and "PostgreSQL" in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "no-such-file.jsonl", "--json"]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out)["outcome"] == "rejected" and "no-such-file.jsonl" in err
    assert main(["replay", "--reorder-window-s", "-1"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_replay_json_is_one_object_with_the_outcome(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "events.jsonl"
    assert tools_main(["simulate", "--sessions", "3", "--out", str(events), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["outcome"] == "ok"
    assert main(["replay", str(events), "--sqlite", str(tmp_path / "a.sqlite"), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["outcome"] == "ok" and payload["exit_code"] == 0 and payload["sessions"] == 3


def test_metric_names_follow_the_conventions() -> None:
    metrics = ConsumerMetrics()
    problems = naming_problems(metrics.registry, "analytics")
    assert not problems, problems
    names = {m.name for m in metrics.registry.collect()}
    assert {"analytics_duplicate_events", "analytics_stream_lag_entries", "process_cpu_seconds"} <= names
    duplicates = next(m for m in metrics.registry.collect() if m.name == "analytics_duplicate_events")
    assert duplicates.type == "counter"  # exported as analytics_duplicate_events_total


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_service_does_not_import_its_tools() -> None:
    """The simulator and the crash check live in tools/analytics: nothing of the service pulls them
    into its pex (Pants follows imports)."""
    assert not (SERVICE / "crash_check.py").exists() and not (SERVICE / "domain" / "simulator.py").exists()
    for path in SERVICE.rglob("*.py"):
        assert not any(n.startswith("netflix_clone.tools") for n in _imports(path)), path
