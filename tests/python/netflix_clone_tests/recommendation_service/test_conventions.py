"""The shared conventions, as an operator meets them through `main()`: settings that name the variable at
fault, exit codes from the platform's table, `--help` naming every variable, metric names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netflix_clone.platform.metrics import naming_problems, new_registry
from netflix_clone.platform.settings import env_vars
from netflix_clone.recommendation_service.cli import main
from netflix_clone.recommendation_service.settings import RecoSettings

from .faults import free_port


def test_a_bad_variable_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("NFC_RECO_PORT", "eighty")
    assert main(["inspect"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "NFC_RECO_PORT" in err and "Traceback" not in err


def test_an_unknown_variable_under_the_prefix_is_rejected(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("NFC_RECO_PROT", "8000")
    assert main(["inspect", "--json"]) == 2
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert payload["outcome"] == "rejected" and payload["exit_code"] == 2 and "NFC_RECO_PROT" in payload["reason"]


def test_unreachable_redis_is_exit_1_in_one_line(tmp_path: Path, capsys) -> None:
    from .helpers import train_small

    train_small(tmp_path / "m")
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    assert main(["warm-cache", "--model-dir", str(tmp_path / "m"), "--redis-url", url, "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["exit_code"] == 1
    # The retries are logged (JSON lines); the outcome is one line of its own.
    outcome = [line for line in captured.err.splitlines() if not line.startswith("{")]
    assert len(outcome) == 1 and "Redis" in outcome[0] and "Traceback" not in captured.err


def test_no_model_is_rejected_and_json_says_so(tmp_path: Path, capsys) -> None:
    assert main(["inspect", "--model-dir", str(tmp_path), "--json"]) == 2
    payload = json.loads(capsys.readouterr().out)
    assert payload["outcome"] == "rejected" and "no model in" in payload["reason"]


def test_a_bad_flag_is_a_usage_error(capsys) -> None:
    assert main(["serve", "--port", "eighty"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--port" in err


@pytest.mark.parametrize("command", ["train", "evaluate", "serve", "warm-cache", "inspect"])
def test_help_names_every_variable_a_command_reads(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    flags_env = {
        "train": ["NFC_RECO_MODEL_DIR", "NFC_RECO_PUBLISH_URI", "NFC_RECO_CATALOG", "NFC_RECO_TUNE_BUDGET_S"],
        "evaluate": ["NFC_RECO_TUNE_BUDGET_S"],
        "serve": [
            "NFC_RECO_MODEL_DIR", "NFC_RECO_MODEL_URI", "NFC_RECO_MODEL_CACHE_DIR", "NFC_RECO_HOST", "NFC_RECO_PORT",
            "NFC_RECO_WORKERS", "NFC_REDIS_URL", "NFC_RECO_REDIS_TIMEOUT_S", "NFC_RECO_CACHE_TTL_S",
            "NFC_RECO_CACHE_PREFIX", "NFC_RECO_COLD_START", "NFC_RECO_RELOAD_INTERVAL_S", "NFC_RECO_MAX_BODY_BYTES",
        ],  # fmt: skip
        "warm-cache": ["NFC_RECO_MODEL_URI", "NFC_REDIS_URL", "NFC_RECO_CACHE_TTL_S", "NFC_RECO_CACHE_PREFIX"],
        "inspect": ["NFC_RECO_MODEL_DIR", "NFC_RECO_MODEL_URI", "NFC_RECO_MODEL_CACHE_DIR"],
    }[command]
    for name in flags_env:
        assert f"env {name}" in text, f"{command} --help does not name {name}"


def test_top_level_help_lists_every_variable(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for var in env_vars(RecoSettings):
        assert var.name in text
    assert "NFC_LOG_LEVEL" in text


def test_every_variable_has_a_description() -> None:
    assert all(var.description for var in env_vars(RecoSettings))


def test_metric_names_follow_the_conventions() -> None:
    from netflix_clone.recommendation_service.serving.http.app import Telemetry

    registry = new_registry()
    Telemetry(registry)
    problems = naming_problems(registry, "reco")
    assert not problems, problems


def test_every_route_has_a_response_schema(tmp_path: Path) -> None:
    from netflix_clone.recommendation_service.serving.http.app import create_app
    from netflix_clone.recommendation_service.serving.model_holder import ModelHolder

    document = create_app(ModelHolder(tmp_path)).openapi()
    missing = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = operation["responses"].get("200", {}).get("content", {})
            if not content or not all(media.get("schema") for media in content.values()):
                missing.append(f"{method.upper()} {path}")
    assert not missing, missing
    assert len([op for ops in document["paths"].values() for op in ops]) == 10  # every route is checked
