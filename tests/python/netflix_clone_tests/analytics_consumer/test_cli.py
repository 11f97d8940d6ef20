from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

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
