"""The platform end to end: videos -> catalog; viewers -> events -> sessions -> history -> model -> HTTP.

Once on embedded defaults (what the README's first command runs) and once on the real servers:
catalog and viewing history in PostgreSQL, events through a Redis stream, the top-N cache in Redis.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from netflix_clone.quickstart.cli import main
from netflix_clone_testing.backends import RedisNamespace


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main([*argv, "--quick", "--sessions", "800", "--users", "160", "--json"]) == 0
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return report


def _check(report: dict[str, Any]) -> None:
    titles = {c["title_id"] for c in report["catalog"]}
    assert len(titles) == 6 and "big-buck-bunny" in titles
    ladder = report["ladder"]
    assert ladder["title"] == "Big Buck Bunny" and len(ladder["rungs"]) == 3  # --quick: three rungs
    vmaf = [r["vmaf"] for r in ladder["rungs"]]
    assert vmaf[-1] > vmaf[0] and all(0 < v <= 100 for v in vmaf)
    qoe = report["analytics"]["qoe"]
    assert qoe["sessions"] > 0
    assert {r["cdn"] for r in qoe["by_cdn"]} == {"cdn-a", "cdn-b"}
    assert {r["device"] for r in qoe["by_device"]} == {"web", "tv", "ios", "android"}
    rec = report["recommendations"]
    assert rec["titles"] == 6  # trained on catalog titles only
    names = {c["name"] for c in report["catalog"]}
    personal = [e for who, e in rec["examples"].items() if who.startswith("u")]
    assert personal and all(e["strategy"].startswith("als") for e in personal)
    for example in rec["examples"].values():
        assert example["titles"] and set(example["titles"]) <= names
    assert rec["offline_metrics"]["als"]["ndcg@10"] > 0


def test_embedded_defaults(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = _run(capsys, "--out", str(tmp_path / "qs"))
    _check(report)
    assert report["backends"].startswith("embedded")
    out = Path(report["out"])
    assert (out / "video" / "catalog.sqlite").exists() and (out / "analytics.sqlite").exists()
    assert json.loads((out / "report.json").read_text(encoding="utf-8"))["seconds"] == report["seconds"]
    master = Path(report["ladder"]["master_playlist"].removeprefix("file://"))
    assert master.read_text(encoding="utf-8").startswith("#EXTM3U")


def test_on_postgresql_and_redis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pg_dsn: str, redis_ns: RedisNamespace
) -> None:
    report = _run(
        capsys, "--out", str(tmp_path / "qs"), "--postgres", pg_dsn, "--redis-url", redis_ns.url,
        "--redis-prefix", redis_ns.prefix,
    )  # fmt: skip
    _check(report)
    assert report["backends"] == "postgresql+redis"
    consumer = report["analytics"]["consumer"]
    assert consumer["events"] == report["analytics"]["events"] and consumer["dead_letters"] == 0
    with psycopg2.connect(pg_dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM catalog_titles")
        assert cur.fetchone() == (6,)
        cur.execute("SELECT count(*), count(DISTINCT title_id) FROM viewing_history")
        rows, distinct = cur.fetchone() or (0, 0)
        assert rows > 0 and distinct == 6
    # The second identical request was answered from the Redis cache, under this test's prefix.
    assert any('result="hit"' in line and not line.endswith(" 0.0") for line in report["recommendations"]["cache"])
    assert any(key.startswith(f"{redis_ns.prefix}reco:".encode()) for key in redis_ns.keys())
