"""The video-processor CLI as CI calls it: JSON out, exit codes that say what happened."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netflix_clone.video_processor.cli import main
from netflix_clone_testing.media import make_clip


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, object]:
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_probe_accepts_and_rejects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_clip(tmp_path / "ok.mp4", seconds=1, size="320x180")
    code, data = _run(capsys, "probe", str(clip), "--json")
    assert code == 0 and isinstance(data, dict) and data["accepted"] is True
    assert data["video"]["width"] == 320
    (tmp_path / "empty.mp4").write_bytes(b"")
    code, data = _run(capsys, "probe", str(tmp_path / "empty.mp4"), "--json")
    assert (
        code == 2
        and isinstance(data, dict)
        and data
        == {"outcome": "rejected", "exit_code": 2, "accepted": False, "reason": "empty_file", "detail": data["detail"]}
    )


def test_plan_shows_the_default_ladder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_clip(tmp_path / "hd.mp4", seconds=1, size="1280x720", audio=False)
    code, data = _run(capsys, "plan", str(clip), "--json", "--max-rungs", "4")
    assert code == 0 and isinstance(data, dict)
    assert data["mode"] == "default" and len(data["rungs"]) == 4
    assert data["rungs"][-1]["height"] == 720


def test_per_title_plan_runs_trials_and_reports_the_hull(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_clip(tmp_path / "pt.mp4", seconds=2, size="640x360", audio=False)
    code, data = _run(capsys, "plan", str(clip), "--per-title", "--json")
    assert code == 0 and isinstance(data, dict)
    assert data["mode"] == "per-title"
    # Two candidate sizes: the top one at three CRFs, the smaller at two.
    assert len(data["trials"]) == 3 + 2
    assert data["trial_plan"]["resolutions"] == ["416x234", "640x360"]
    assert data["hull"] and all(0 <= p["vmaf"] <= 100 for p in data["trials"])
    rates = [r["bitrate_kbps"] for r in data["rungs"]]
    assert rates == sorted(rates) and all("predicted_vmaf" in r for r in data["rungs"])


def test_process_enqueue_worker_jobs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_clip(tmp_path / "c.mp4", seconds=2, size="320x180")
    out = tmp_path / "out"
    code, report = _run(
        capsys,
        "process",
        str(clip),
        "--output",
        str(out),
        "--segment-seconds",
        "1",
        "--preset",
        "ultrafast",
        "--json",
    )
    assert code == 0 and isinstance(report, dict) and report["ok"] and report["title_id"] == "c"
    queue = str(tmp_path / "jobs.sqlite")
    (tmp_path / "broken.mp4").write_text("not a video")
    for path in (clip, tmp_path / "broken.mp4"):
        code, data = _run(capsys, "enqueue", str(path), "--queue", queue, "--segment-seconds", "1", "--json")
        assert code == 0 and isinstance(data, dict) and data["job_id"] > 0
    code, counts = _run(capsys, "worker", "--queue", queue, "--output", str(out), "--exit-when-idle", "--json")
    assert code == 0 and isinstance(counts, dict) and counts["outcome"] == "ok"
    assert counts["jobs"] == {"succeeded": 1, "failed": 1}
    code, jobs = _run(capsys, "jobs", "--queue", queue, "--json")
    assert isinstance(jobs, list)
    assert [(j["title_id"], j["state"]) for j in jobs] == [("c", "succeeded"), ("broken", "failed")]
    assert jobs[1]["reason"].startswith("not_a_video")
    code, data = _run(capsys, "process", str(tmp_path / "broken.mp4"), "--output", str(out), "--json")
    assert code == 2 and isinstance(data, dict) and data["reason"] == "not_a_video"


def test_process_rejects_before_anything_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 16: a rejected upload left an empty catalog.sqlite (the catalog was opened first)."""
    (tmp_path / "broken.mp4").write_text("not a video")
    out = tmp_path / "out"
    code, data = _run(capsys, "process", str(tmp_path / "broken.mp4"), "--output", str(out), "--json")
    assert code == 2 and isinstance(data, dict) and data["reason"] == "not_a_video"
    assert not out.exists()  # no output root, no staging directory, no catalog.sqlite
    catalog = tmp_path / "elsewhere" / "catalog.sqlite"
    (tmp_path / "empty.mp4").write_bytes(b"")
    code, data = _run(
        capsys, "process", str(tmp_path / "empty.mp4"), "--output", str(out),
        "--catalog", str(catalog), "--json",
    )  # fmt: skip
    assert code == 2 and isinstance(data, dict) and data["reason"] == "empty_file"
    assert not out.exists() and not catalog.parent.exists()


def test_default_title_ids_are_made_safe_from_file_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_clip(tmp_path / "Big Buck Bunny (2008).mp4", seconds=1, size="160x90")
    queue = str(tmp_path / "jobs.sqlite")
    code, _ = _run(capsys, "enqueue", str(clip), "--queue", queue, "--json")
    assert code == 0
    code, jobs = _run(capsys, "jobs", "--queue", queue, "--json")
    assert isinstance(jobs, list) and jobs[0]["title_id"] == "Big-Buck-Bunny-2008"
