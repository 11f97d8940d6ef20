from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from netflix_clone.analytics_consumer.cli import main
from netflix_clone.tools.analytics.cli import main as tools_main
from netflix_clone_testing.backends import RedisNamespace


def test_simulate_then_replay_with_dead_letters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "events.jsonl"
    assert (
        tools_main(
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
        tools_main(
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


def test_taste_groups_shape_what_viewers_play_and_report_groups_qoe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from collections import Counter

    from netflix_clone.contracts.player_events import PlayRequest
    from netflix_clone.tools.analytics.simulator import simulate_population

    titles = [f"title-{i}" for i in range(8)]
    events = simulate_population(sessions=800, users=40, titles=titles, seed=3, taste_clusters=4)
    groups = {t: i % 4 for i, t in enumerate(titles)}
    plays = [(e.user_id, e.cid) for e in events if isinstance(e, PlayRequest)]  # CMCD: cid = content id
    in_group = Counter(groups[t] == int(u[1:]) % 4 for u, t in plays)
    assert in_group[True] > 2 * in_group[False]  # most plays come from the viewer's own group
    assert len(plays) == 800 and {t for _, t in plays} <= set(titles)

    out = tmp_path / "events.jsonl"
    assert tools_main(["simulate", "--sessions", "200", "--titles", ",".join(titles), "--taste-clusters", "4",
                       "--durations-min", "2,4", "--out", str(out), "--json"]) == 0  # fmt: skip
    capsys.readouterr()
    db = tmp_path / "a.sqlite"
    assert main(["replay", str(out), "--sqlite", str(db), "--json"]) == 0
    capsys.readouterr()
    assert main(["report", "--sqlite", str(db), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sessions"] == 200
    assert sum(r["sessions"] for r in report["by_cdn"]) == 200
    assert {r["device"] for r in report["by_device"]} == {"web", "tv", "ios", "android"}
    assert all(0 <= r["qoe_score"] <= 100 for r in report["by_device"])
    assert main(["report", "--sqlite", str(tmp_path / "missing.sqlite")]) == 2
