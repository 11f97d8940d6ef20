"""Publishing to S3 (moto in server mode on loopback): all-or-nothing visibility, then idempotence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from netflix_clone.video_processor.adapters.encode import EncodeOptions
from netflix_clone.video_processor.adapters.publish import MANIFEST, PublishError, S3Publisher
from netflix_clone.video_processor.domain.playlists import parse_master
from netflix_clone.video_processor.process import ProcessConfig, process_video
from netflix_clone_testing.media import make_clip

BUCKET = "nfc-video-test"
CONFIG = ProcessConfig(encode=EncodeOptions(segment_s=1, preset="ultrafast"), quality_subsample=5)


@pytest.fixture(scope="module")
def s3(aws_endpoint: str) -> Any:
    client = boto3.client("s3", endpoint_url=aws_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("s3src") / "clip.mp4", seconds=2, size="320x180")


def _keys(s3: Any, prefix: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        out.update({item["Key"]: item["Size"] for item in page.get("Contents", [])})
    return out


class FlakyS3:
    """A real client whose uploads start failing after ``allowed`` objects, as a dropped connection would."""

    def __init__(self, client: Any, allowed: int) -> None:
        self._client = client
        self.allowed = allowed
        self.uploads = 0

    def upload_file(self, *args: Any, **kwargs: Any) -> None:
        self.uploads += 1
        if self.uploads > self.allowed:
            raise ConnectionError("connection reset by peer (injected)")
        self._client.upload_file(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_interrupted_upload_is_invisible_and_a_rerun_completes_it(s3: Any, source: Path, tmp_path: Path) -> None:
    flaky = FlakyS3(s3, allowed=4)
    publisher = S3Publisher(BUCKET, "vod", client=flaky, work_dir=str(tmp_path / "staging"), max_workers=1)
    with pytest.raises(ConnectionError):
        process_video(str(source), "flaky", "Flaky", CONFIG, publisher)
    partial = _keys(s3, "vod/titles/flaky/")
    assert 0 < len(partial) <= 4  # some objects landed...
    assert not any(k.endswith(("/master.m3u8", f"/{MANIFEST}")) for k in partial)  # ...but no entry point
    assert not list((tmp_path / "staging").iterdir())  # staging cleaned up after the failure

    publisher = S3Publisher(BUCKET, "vod", client=s3, work_dir=str(tmp_path / "staging"))
    report = process_video(str(source), "flaky", "Flaky", CONFIG, publisher)
    assert report["location"].startswith(f"s3://{BUCKET}/vod/titles/flaky/")
    keys = _keys(s3, "vod/titles/flaky/")
    prefix = report["location"][len(f"s3://{BUCKET}/") :] + "/"
    assert set(partial) <= set(keys)  # same names the second time: the job key is stable
    # ...and the same bytes: what landed before the failure is recognised by hash, not re-sent.
    counts = report["run"]["publish"]
    assert counts["unchanged"] == len(partial) and counts["replaced"] == 0
    assert counts["uploaded"] == len(keys) - len(partial)
    master = s3.get_object(Bucket=BUCKET, Key=prefix + "master.m3u8")
    assert master["ContentType"] == "application/vnd.apple.mpegurl"
    variants, _ = parse_master(master["Body"].read().decode())
    for variant in variants:
        assert prefix + variant["URI"] in keys
    segment = next(k for k in keys if k.endswith(".ts"))
    head = s3.head_object(Bucket=BUCKET, Key=segment)
    assert head["ContentType"] == "video/mp2t" and "immutable" in head["CacheControl"]


def test_rerun_of_a_published_job_reuses_it(s3: Any, source: Path, tmp_path: Path) -> None:
    publisher = S3Publisher(BUCKET, "vod", client=s3, work_dir=str(tmp_path / "staging"))
    first = process_video(str(source), "twice", "Twice", CONFIG, publisher)
    before = _keys(s3, "vod/titles/twice/")
    second = process_video(str(source), "twice", "Twice", CONFIG, publisher)
    assert second["reused"] is True and second["location"] == first["location"]
    assert _keys(s3, "vod/titles/twice/") == before


def test_forced_rerun_re_uploads_identical_objects(s3: Any, source: Path, tmp_path: Path) -> None:
    """Issue 16: reruns had the same names but not the same bytes. Now every object is compared by
    SHA-256 (stored as object metadata) and an identical one is left as it is."""
    publisher = S3Publisher(BUCKET, "vod", client=s3, work_dir=str(tmp_path / "staging"))
    first = process_video(str(source), "again", "Again", CONFIG, publisher)
    objects = _keys(s3, "vod/titles/again/")
    assert first["run"]["publish"] == {"uploaded": len(objects), "unchanged": 0, "replaced": 0}
    etags = {key: s3.head_object(Bucket=BUCKET, Key=key)["ETag"] for key in objects}
    second = process_video(str(source), "again", "Again", CONFIG, publisher, force=True)
    assert second["run"]["publish"] == {"uploaded": 0, "unchanged": len(objects), "replaced": 0}
    for key, etag in etags.items():
        head = s3.head_object(Bucket=BUCKET, Key=key)
        assert head["ETag"] == etag and len(head["Metadata"]["sha256"]) == 64


def test_publish_refuses_an_incomplete_staging_dir(s3: Any, tmp_path: Path) -> None:
    (tmp_path / "stage").mkdir()
    (tmp_path / "stage" / "master.m3u8").write_text("#EXTM3U\n")
    with pytest.raises(PublishError, match="manifest.json"):
        S3Publisher(BUCKET, client=s3).publish(str(tmp_path / "stage"), "titles/x/y")
