"""The shared conventions, checked from outside: settings from NFC_* variables, one line and the right
exit code for a bad variable, a bad store string or an unreachable backend, and --json outcomes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netflix_clone.platform.settings import env_vars
from netflix_clone.video_processor.adapters.job_queue import PostgresJobQueue, SqliteJobQueue, open_queue
from netflix_clone.video_processor.cli import main
from netflix_clone.video_processor.settings import VideoSettings


def _one_line(err: str) -> str:
    """The one outcome line on stderr (JSON log records, e.g. the connect retries' warnings, aside)."""
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith('{"')]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_a_bad_variable_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NFC_VIDEO_OPS_PORT", "eighty")
    assert main(["jobs", "--queue", "x.sqlite"]) == 2
    assert "NFC_VIDEO_OPS_PORT" in _one_line(capsys.readouterr().err)


def test_an_unknown_variable_under_the_prefix_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NFC_VIDEO_QUEUE", "var/video/jobs.sqlite")  # the old name: now NFC_POSTGRES_DSN / --queue
    assert main(["jobs", "--json"]) == 2
    captured = capsys.readouterr()
    assert "NFC_VIDEO_QUEUE: unknown setting" in _one_line(captured.err)
    assert json.loads(captured.out)["exit_code"] == 2


def test_an_unreachable_queue_is_one_line_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["jobs", "--queue", "postgresql://nobody@127.0.0.1:1/app?connect_timeout=1", "--json"])
    captured = capsys.readouterr()
    assert code == 1
    line = _one_line(captured.err)
    assert "PostgreSQL at 127.0.0.1:1/app is unreachable" in line
    data = json.loads(captured.out)
    assert data["outcome"] == "failed" and data["exit_code"] == 1


def test_a_key_value_dsn_without_host_is_postgres_not_a_sqlite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 20: `--queue "dbname=app"` silently created a SQLite file named `dbname=app`."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PGHOST", "127.0.0.1")
    code = main(["jobs", "--queue", "dbname=app port=1 connect_timeout=1"])
    assert code == 1 and "PostgreSQL" in _one_line(capsys.readouterr().err)
    assert not list(tmp_path.iterdir())  # no file of that name (or any other)


def test_a_dsn_typo_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["jobs", "--queue", "dbnmae=app"]) == 2
    assert "not a libpq keyword" in _one_line(capsys.readouterr().err)
    assert not list(tmp_path.iterdir())


def test_stores_are_chosen_by_parse_store(tmp_path: Path, pg_dsn: str) -> None:
    assert isinstance(open_queue(str(tmp_path / "a.sqlite")), SqliteJobQueue)
    assert isinstance(open_queue(f"sqlite:///{tmp_path / 'b'}"), SqliteJobQueue)
    assert (tmp_path / "b").exists()
    queue = open_queue(pg_dsn)
    assert isinstance(queue, PostgresJobQueue)
    queue.close()


def test_the_shared_postgres_is_the_default_queue(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NFC_POSTGRES_DSN", pg_dsn)
    assert main(["jobs", "--json"]) == 0
    assert isinstance(json.loads(capsys.readouterr().out), list)


def test_help_names_every_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    top = capsys.readouterr().out
    for var in env_vars(VideoSettings):
        assert var.name in top
    with pytest.raises(SystemExit):
        main(["worker", "--help"])
    worker = capsys.readouterr().out
    for name in ("NFC_POSTGRES_DSN", "NFC_VIDEO_OPS_PORT", "NFC_VIDEO_OUTPUT_DIR", "NFC_VIDEO_S3_BUCKET"):
        assert name in worker


def test_every_variable_has_a_description() -> None:
    names = [var.name for var in env_vars(VideoSettings)]
    assert all(var.description for var in env_vars(VideoSettings))
    assert "NFC_LOG_LEVEL" in names and "NFC_POSTGRES_DSN" in names
    assert all(n.startswith("NFC_VIDEO_") for n in names if n not in ("NFC_LOG_LEVEL", "NFC_POSTGRES_DSN"))


def test_json_outcome_of_a_rejected_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert main(["probe", str(tmp_path / "empty.mp4"), "--json"]) == 2
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["outcome"] == "rejected" and data["exit_code"] == 2 and data["reason"] == "empty_file"
    assert "rejected (empty_file)" in _one_line(captured.err)
