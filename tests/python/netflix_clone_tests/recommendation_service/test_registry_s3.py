"""The S3 model registry on moto's server: publish (objects, verify, pointer last), servers that
converge on the published version, verification on download, warm-cache and inspect from S3."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest

from netflix_clone.recommendation_service.adapters.registry import RegistryError, S3Store, open_store
from netflix_clone.recommendation_service.cli import main
from netflix_clone.recommendation_service.serving.http.app import create_app
from netflix_clone.recommendation_service.serving.model_holder import ModelHolder
from netflix_clone_testing.backends import RedisNamespace

from .helpers import train_small
from .test_http_resilience import Server

BUCKET = "reco-models"


@pytest.fixture(scope="module")
def s3(aws_endpoint: str):
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def _keys(s3, prefix: str) -> list[str]:
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for o in listing.get("Contents", []))


def test_publish_uploads_every_file_then_the_pointer(s3, tmp_path: Path) -> None:
    result = train_small(tmp_path / "local", seed=61)
    store = S3Store(f"s3://{BUCKET}/publish-order", cache_dir=tmp_path / "cache")
    uri = store.publish(result.path)
    version = result.model.version
    assert uri == f"s3://{BUCKET}/publish-order/versions/{version}"
    keys = _keys(s3, "publish-order/")
    files = sorted(p.name for p in result.path.iterdir())
    assert keys == sorted(
        ["publish-order/CURRENT", f"publish-order/versions/{version}/MANIFEST.json"]
        + [f"publish-order/versions/{version}/{name}" for name in files]
    )
    manifest = json.loads(
        s3.get_object(Bucket=BUCKET, Key=f"publish-order/versions/{version}/MANIFEST.json")["Body"].read()
    )
    assert set(manifest["files"]) == set(files)
    assert store.current_version() == version
    local = store.materialize(version)
    assert (local / "item_factors.npy").read_bytes() == (result.path / "item_factors.npy").read_bytes()


def test_a_failed_upload_never_moves_the_pointer(s3, tmp_path: Path) -> None:
    first = train_small(tmp_path / "local", seed=62)
    store = S3Store(f"s3://{BUCKET}/half-upload", cache_dir=tmp_path / "cache")
    store.publish(first.path)
    second = train_small(tmp_path / "local", seed=63)
    real = boto3.client("s3")
    calls = {"n": 0}

    class Flaky:
        def __getattr__(self, name: str):
            return getattr(real, name)

        def put_object(self, **kwargs):
            calls["n"] += 1
            if calls["n"] == 3:
                from botocore.exceptions import EndpointConnectionError

                raise EndpointConnectionError(endpoint_url="http://moto")
            return real.put_object(**kwargs)

    flaky = S3Store(f"s3://{BUCKET}/half-upload", cache_dir=tmp_path / "cache2", client=Flaky())
    with pytest.raises(RegistryError, match="publishing .* failed"):
        flaky.publish(second.path)
    assert store.current_version() == first.model.version


def test_a_version_that_does_not_match_its_manifest_is_refused(s3, tmp_path: Path) -> None:
    good = train_small(tmp_path / "local", seed=64)
    store = S3Store(f"s3://{BUCKET}/tampered", cache_dir=tmp_path / "cache")
    store.publish(good.path)
    holder = ModelHolder(store)
    assert holder.reload_if_changed()
    bad = train_small(tmp_path / "local", seed=65)
    store.publish(bad.path)
    s3.put_object(
        Bucket=BUCKET,
        Key=f"tampered/versions/{bad.model.version}/item_factors.npy",
        Body=b"not the uploaded bytes",
    )
    assert not holder.reload_if_changed()
    assert holder.current.version == good.model.version
    assert "does not match its manifest" in (holder.last_error or "")


def test_two_servers_on_one_bucket_converge_on_a_new_version(s3, tmp_path: Path) -> None:
    uri = f"s3://{BUCKET}/fleet"
    first = train_small(tmp_path / "local", seed=66)
    S3Store(uri, cache_dir=tmp_path / "publisher").publish(first.path)
    holders = [ModelHolder(open_store(uri, cache_dir=tmp_path / f"replica{i}")) for i in range(2)]
    servers = [Server(h, watch_interval_s=0.1) for h in holders]
    with servers[0] as first_client, servers[1] as second_client:
        _converge(tmp_path, uri, holders, [first_client, second_client], first.model.version)


def _converge(tmp_path: Path, uri: str, holders, clients, first_version: str) -> None:
    for holder in holders:
        assert holder.wait_ready(30)
    assert {c.get("/readyz").json()["model_version"] for c in clients} == {first_version}
    # A new training published through the command line, as CI or a scheduled task would.
    history = tmp_path / "h.csv"
    assert main(["synthesize", "--out", str(history), "--users", "200", "--items", "100"]) == 0
    assert main([
        "train", "--history", str(history), "--model-dir", str(tmp_path / "local"),
        "--publish", uri, "--factors", "8", "--iterations", "3", "--skip-eval", "--json",
    ]) == 0  # fmt: skip
    new = S3Store(uri, cache_dir=tmp_path / "check").current_version()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        versions = {c.get("/readyz").json()["model_version"] for c in clients}
        if versions == {new}:
            break
        time.sleep(0.1)
    assert versions == {new} != {first_version}
    user = str(holders[0].current.model.user_ids[0])
    lists = [c.get(f"/v1/users/{user}/recommendations").json() for c in clients]
    assert lists[0]["items"] == lists[1]["items"] and lists[0]["model_version"] == new


def test_warm_cache_and_inspect_read_the_registry(
    s3, tmp_path: Path, redis_ns: RedisNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"s3://{BUCKET}/warm"
    result = train_small(tmp_path / "local", seed=67)
    S3Store(uri, cache_dir=tmp_path / "publisher").publish(result.path)
    capsys.readouterr()
    common = ["--model-uri", uri, "--model-cache-dir", str(tmp_path / "cache"), "--json"]
    assert main(["inspect", *common]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == result.model.version
    assert main([
        "warm-cache", *common, "--redis-url", redis_ns.url, "--cache-prefix",
        redis_ns.key("reco:"), "--top-users", "20",
    ]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert report["model_version"] == result.model.version and report["users"] == 20
    assert len([k for k in redis_ns.keys() if b":topn:" in k]) == 20


def test_an_unreachable_registry_is_a_clean_error(s3, tmp_path: Path, capsys) -> None:
    code = main(["inspect", "--model-uri", "s3://no-such-bucket-here/x", "--model-cache-dir", str(tmp_path)])
    err = capsys.readouterr().err.splitlines()
    lines = [line for line in err if line.startswith("recommendation-service")]
    assert code == 1 and len(lines) == 1  # a registry that cannot be read: failed
    assert "cannot read s3://no-such-bucket-here/x/CURRENT" in lines[0]


def test_create_app_exposes_the_registry_uri(s3, tmp_path: Path) -> None:
    holder = ModelHolder(open_store(f"s3://{BUCKET}/nothing-yet", cache_dir=tmp_path))
    assert not holder.reload_if_changed()
    app = create_app(holder)
    assert app.state.holder.model_root == f"s3://{BUCKET}/nothing-yet"
    assert "cannot read" in (holder.last_error or "")
