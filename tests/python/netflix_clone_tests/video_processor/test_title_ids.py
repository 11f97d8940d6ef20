"""Issue 16, path traversal: a title id becomes a directory and an S3 key, so every entry point
refuses one that could leave the output root - the CLI, enqueue, claim (a row written straight into
the database) and the publishers themselves."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from netflix_clone.contracts.catalog import TITLE_ID_MAX_LENGTH, InvalidTitleId, check_title_id, is_valid_title_id
from netflix_clone.video_processor.adapters.job_queue import PostgresJobQueue, SqliteJobQueue
from netflix_clone.video_processor.adapters.publish import LocalPublisher, PublishError, S3Publisher
from netflix_clone.video_processor.cli import config_from_settings, main
from netflix_clone.video_processor.process import ProcessConfig, process_video
from netflix_clone.video_processor.worker import run_worker
from netflix_clone_testing.media import make_clip

HOSTILE = [
    "..",
    "../../escaped",
    "/tmp/escaped-absolute",
    "a/b",
    "a\\b",
    "nul\x00byte",
    "x" * (TITLE_ID_MAX_LENGTH + 1),
    ".hidden",
    "-rf",
    "",
    "new\nline",
]
SAFE = ["bbb", "big-buck-bunny", "S01E02.director_cut", "x" * TITLE_ID_MAX_LENGTH]
FAST = {"segment_s": 1, "preset": "ultrafast", "quality_subsample": 5}


def test_the_contract_pattern() -> None:
    for title_id in SAFE:
        assert is_valid_title_id(title_id) and check_title_id(title_id) == title_id
    for title_id in HOSTILE:
        assert not is_valid_title_id(title_id)
        with pytest.raises(InvalidTitleId):
            check_title_id(title_id)
    assert not is_valid_title_id(None) and not is_valid_title_id(42)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("ids") / "clip.mp4", seconds=1, size="160x90")


def _nothing_escaped(root: Path) -> None:
    assert not (root / "escaped").exists()
    assert not Path("/tmp/escaped-absolute").exists()


@pytest.mark.parametrize("title_id", HOSTILE[:-2])  # argv cannot carry "" meaningfully or NUL
def test_cli_process_refuses_the_id_and_writes_nothing(
    tmp_path: Path, clip: Path, capsys: pytest.CaptureFixture[str], title_id: str
) -> None:
    if "\x00" in title_id:
        pytest.skip("a NUL cannot travel in argv; the API path is tested below")
    out = tmp_path / "deep" / "out"
    code = main(["process", str(clip), f"--title-id={title_id}", "--output", str(out), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 2 and data["reason"] == "invalid_title_id"
    assert not out.exists()
    _nothing_escaped(tmp_path / "deep")


@pytest.mark.parametrize("title_id", HOSTILE)
def test_pipeline_refuses_the_id_before_reading_or_writing(tmp_path: Path, clip: Path, title_id: str) -> None:
    out = tmp_path / "out"
    with pytest.raises(InvalidTitleId):
        process_video(str(clip), title_id, "T", ProcessConfig(), LocalPublisher(str(out)))
    assert not out.exists()
    _nothing_escaped(tmp_path)


@pytest.mark.parametrize("title_id", ["../../escaped", "/abs", "a/b", "x" * 65, "nul\x00"])
def test_enqueue_refuses_the_id(tmp_path: Path, pg_dsn: str, title_id: str) -> None:
    for queue in (SqliteJobQueue(str(tmp_path / "jobs.sqlite")), PostgresJobQueue(pg_dsn)):
        with pytest.raises(InvalidTitleId):
            queue.enqueue(title_id, "T", "/in.mp4", FAST)
        assert not [j for j in queue.jobs() if j.title_id == title_id]


def test_cli_enqueue_refuses_the_id(tmp_path: Path, clip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    queue = tmp_path / "jobs.sqlite"
    code = main(["enqueue", str(clip), "--title-id", "../../escaped", "--queue", str(queue), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 2 and data["reason"] == "invalid_title_id" and not queue.exists()


def _insert_raw(queue: Any, title_id: str, input_path: str) -> None:
    """A row that never went through enqueue(): written by another tool, or an attacker."""
    now = time.time()
    if isinstance(queue, SqliteJobQueue):
        with sqlite3.connect(queue.path) as db:
            db.execute(
                "INSERT INTO video_jobs (title_id, name, input, settings, max_attempts, not_before, "
                "created_at, updated_at) VALUES (?, 'T', ?, ?, 3, ?, ?, ?)",
                (title_id, input_path, json.dumps(FAST), now, now, now),
            )
    else:
        with queue.connection() as conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO video_jobs (title_id, name, input, settings, max_attempts, not_before, "
                "created_at, updated_at) VALUES (%s, 'T', %s, %s, 3, %s, %s, %s)",
                (title_id, input_path, json.dumps(FAST), now, now, now),
            )


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_row_with_a_bad_id_fails_at_claim_and_writes_nothing(
    tmp_path: Path, clip: Path, pg_dsn: str, backend: str
) -> None:
    if backend == "sqlite":
        queue: Any = SqliteJobQueue(str(tmp_path / "jobs.sqlite"))
    else:
        queue = PostgresJobQueue(pg_dsn)
        with queue.connection() as conn, conn.cursor() as cur:
            cur.execute("TRUNCATE video_jobs")
    out = tmp_path / "a" / "b" / "out"
    hostile = ["../../escaped", "/tmp/escaped-absolute", "a/b", "x" * 80, ".."]
    if backend == "postgres":
        hostile.append("nul-free-but-\\-slash")  # PostgreSQL TEXT cannot hold NUL at all
    else:
        hostile.append("nul\x00byte")
    for title_id in hostile:
        _insert_raw(queue, title_id, str(clip))
    good = queue.enqueue("good", "Good", str(clip), FAST)
    counts = run_worker(queue, config_from_settings, LocalPublisher(str(out)), None, lease_s=10, exit_when_idle=True)
    assert counts == {"succeeded": 1}  # the bad rows never reached a worker
    jobs = {j.id: j for j in queue.jobs()}
    assert jobs[good].state == "succeeded"
    bad = [j for j in jobs.values() if j.id != good]
    assert len(bad) == len(hostile)
    for job in bad:
        assert job.state == "failed" and job.attempts == 0
        assert job.reason is not None and job.reason.startswith("invalid_title_id:")
    assert sorted(p.name for p in (out / "titles").iterdir()) == ["good"]
    _nothing_escaped(tmp_path / "a")
    if backend == "postgres":
        queue.close()


def test_local_publisher_keeps_every_path_under_its_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    publisher = LocalPublisher(str(root))
    for prefix in (
        "titles/../../escaped/k",
        "/etc/k",
        "titles/a\x00b/k",
        "titles//k",
        "titles/./k",
    ):
        with pytest.raises(PublishError):
            publisher.staging_dir(prefix)
        with pytest.raises(PublishError):
            publisher.location(prefix)
    # A symlink planted inside the root must not carry a publish outside it.
    (root / "titles").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (root / "titles" / "linked").symlink_to(tmp_path / "outside")
    staged = tmp_path / "staged"
    staged.mkdir()
    (staged / "manifest.json").write_text("{}")
    with pytest.raises(PublishError, match="outside"):
        publisher.publish(str(staged), "titles/linked/abc123")
    assert not list((tmp_path / "outside").iterdir())


def test_s3_publisher_refuses_unsafe_keys(aws_endpoint: str, tmp_path: Path) -> None:
    client = boto3.client("s3", endpoint_url=aws_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="nfc-ids")
    with pytest.raises(PublishError):
        S3Publisher("nfc-ids", "vod/../other", client=client)
    publisher = S3Publisher("nfc-ids", "vod", client=client, work_dir=str(tmp_path))
    for prefix in ("titles/../../k", "titles/a/../../b", "/abs/k", "titles/a\x00/k"):
        with pytest.raises(PublishError):
            publisher.location(prefix)
        with pytest.raises(PublishError):
            publisher.published_manifest(prefix)
    assert publisher.location("titles/bbb/abc") == "s3://nfc-ids/vod/titles/bbb/abc"
    assert client.list_objects_v2(Bucket="nfc-ids").get("KeyCount", 0) == 0
