from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from netflix_clone_testing.backends import RedisNamespace

from netflix_clone.analytics_consumer.cli import main


def test_simulate_then_replay_with_dead_letters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events.jsonl"
    assert (
        main(
            [
                "simulate",
                "--sessions",
                "20",
                "--out",
                str(events),
                "--start-ms",
                "1790000000000",
                "--json",
            ]
        )
        == 0
    )
    simulated = json.loads(capsys.readouterr().out)
    with open(events, "ab") as handle:
        handle.write(b"not json\n")
    db = tmp_path / "a.sqlite"
    assert (
        main(
            [
                "replay",
                str(events),
                "--sqlite",
                str(db),
                "--dead-letters",
                str(tmp_path / "dead.jsonl"),
                "--json",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["events"] == simulated["events"] + 1
    assert summary["sessions"] == 20 and summary["dead_letters"] == 1
    assert json.loads((tmp_path / "dead.jsonl").read_text())["reason"] == "malformed_json"
    assert sqlite3.connect(db).execute("SELECT count(*) FROM sessions").fetchone() == (20,)


def test_run_consumes_a_stream_into_the_sinks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], redis_ns: RedisNamespace
) -> None:
    stream = redis_ns.key("player-events")
    assert (
        main(
            [
                "simulate",
                "--sessions",
                "15",
                "--redis-url",
                redis_ns.url,
                "--stream",
                stream,
                "--start-ms",
                "1790000000000",
                "--json",
            ]
        )
        == 0
    )
    published = json.loads(capsys.readouterr().out)["events"]
    db = tmp_path / "run.sqlite"
    # Events from the past: the wall-clock watermark closes every session on the first idle read.
    assert (
        main(
            [
                "run",
                "--redis-url",
                redis_ns.url,
                "--stream",
                stream,
                "--group",
                "g",
                "--dead-letter-stream",
                redis_ns.key("dead"),
                "--store-prefix",
                redis_ns.key("store:"),
                "--sqlite",
                str(db),
                "--ops-port",
                "0",
                "--until-idle",
            ]
        )
        == 0
    )
    assert sqlite3.connect(db).execute("SELECT count(*) FROM sessions").fetchone() == (15,)
    groups = redis_ns.client.xinfo_groups(stream)
    assert groups[0]["pending"] == 0 and groups[0]["entries-read"] == published
