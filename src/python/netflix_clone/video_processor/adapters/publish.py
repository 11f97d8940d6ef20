"""Publishing a staged ladder so that it becomes visible all at once, or not at all.

Output names derive from the job key (input hash + settings), so a rerun writes the same names.

* Local directory: the job stages under ``<root>/.staging/`` on the same filesystem and the finished
  tree is moved into place with one ``rename`` - atomic on POSIX. A crash leaves only a staging
  directory, removed by the next run after ``stale_after_s``.
* S3: there is no multi-object transaction, so visibility is defined by two entry points written
  last: every segment, playlist and image is uploaded and its size verified by listing, then
  ``master.m3u8``, then ``manifest.json`` (the commit marker). Nothing refers to the prefix before the
  manifest exists (the catalog row comes after it), and a rerun re-uploads identical objects and
  completes the commit.
"""

from __future__ import annotations

import json
import mimetypes
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional, Protocol

__all__ = ["LocalPublisher", "PublishError", "Publisher", "S3Publisher", "COMMIT_LAST", "MANIFEST"]

MANIFEST = "manifest.json"
COMMIT_LAST = ("master.m3u8", MANIFEST)  # in this order, after everything else

_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".vtt": "text/vtt",
    ".jpg": "image/jpeg",
    ".json": "application/json",
}


class PublishError(RuntimeError):
    pass


class Publisher(Protocol):
    def location(self, prefix: str) -> str:
        ...

    def staging_dir(self, prefix: str) -> str:
        ...

    def published_manifest(self, prefix: str) -> Optional[dict[str, Any]]:
        ...

    def publish(self, staged: str, prefix: str) -> str:
        ...


def _files(root: str) -> Iterator[tuple[str, str]]:
    for directory, _, names in os.walk(root):
        for name in sorted(names):
            path = os.path.join(directory, name)
            yield os.path.relpath(path, root).replace(os.sep, "/"), path


class LocalPublisher:
    def __init__(self, root: str, stale_after_s: float = 6 * 3600.0) -> None:
        self.root = os.path.abspath(root)
        self.stale_after_s = stale_after_s

    def location(self, prefix: str) -> str:
        return "file://" + os.path.join(self.root, prefix)

    def staging_dir(self, prefix: str) -> str:
        staging_root = os.path.join(self.root, ".staging")
        os.makedirs(staging_root, exist_ok=True)
        self._remove_stale(staging_root)
        path = os.path.join(staging_root, f"{prefix.replace('/', '_')}-{uuid.uuid4().hex[:8]}")
        os.makedirs(path)
        return path

    def _remove_stale(self, staging_root: str) -> None:
        cutoff = time.time() - self.stale_after_s
        for name in os.listdir(staging_root):
            path = os.path.join(staging_root, name)
            try:
                if os.path.getmtime(path) < cutoff:
                    shutil.rmtree(path, ignore_errors=True)
            except FileNotFoundError:
                pass

    def published_manifest(self, prefix: str) -> Optional[dict[str, Any]]:
        path = os.path.join(self.root, prefix, MANIFEST)
        try:
            with open(path, encoding="utf-8") as handle:
                manifest: dict[str, Any] = json.load(handle)
                return manifest
        except FileNotFoundError:
            return None

    def publish(self, staged: str, prefix: str) -> str:
        if not os.path.exists(os.path.join(staged, MANIFEST)):
            raise PublishError(
                f"{staged} has no {MANIFEST}; refusing to publish an incomplete ladder"
            )
        final = os.path.join(self.root, prefix)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        try:
            os.rename(staged, final)
        except OSError:
            if self.published_manifest(prefix) is None:
                raise
            # Same key already published (a concurrent or earlier identical job): identical content.
            shutil.rmtree(staged, ignore_errors=True)
        return self.location(prefix)


class S3Publisher:
    def __init__(
        self,
        bucket: str,
        base_prefix: str = "",
        client: Any = None,
        work_dir: Optional[str] = None,
        max_workers: int = 8,
    ) -> None:
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.client = client
        self.bucket = bucket
        self.base_prefix = base_prefix.strip("/")
        self.work_dir = work_dir or os.path.join(
            os.path.expanduser("~"), ".cache", "netflix-clone", "video-staging"
        )
        self.max_workers = max_workers

    def _key(self, prefix: str, rel: str = "") -> str:
        parts = [p for p in (self.base_prefix, prefix.strip("/"), rel) if p]
        return "/".join(parts)

    def location(self, prefix: str) -> str:
        return f"s3://{self.bucket}/{self._key(prefix)}"

    def staging_dir(self, prefix: str) -> str:
        os.makedirs(self.work_dir, exist_ok=True)
        path = os.path.join(self.work_dir, f"{prefix.replace('/', '_')}-{uuid.uuid4().hex[:8]}")
        os.makedirs(path)
        return path

    def published_manifest(self, prefix: str) -> Optional[dict[str, Any]]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(prefix, MANIFEST))[
                "Body"
            ].read()
        except self.client.exceptions.NoSuchKey:
            return None
        manifest: dict[str, Any] = json.loads(body)
        return manifest

    def _put(self, rel: str, path: str, prefix: str) -> None:
        extension = os.path.splitext(rel)[1]
        content_type = (
            _TYPES.get(extension) or mimetypes.guess_type(rel)[0] or "application/octet-stream"
        )
        # Playlists and the manifest are small and must never be served stale after a republish.
        cache = (
            "max-age=60"
            if extension in (".m3u8", ".json")
            else "public, max-age=31536000, immutable"
        )
        self.client.upload_file(
            path,
            self.bucket,
            self._key(prefix, rel),
            ExtraArgs={"ContentType": content_type, "CacheControl": cache},
        )

    def publish(self, staged: str, prefix: str) -> str:
        files = dict(_files(staged))
        missing = [name for name in COMMIT_LAST if name not in files]
        if missing:
            raise PublishError(
                f"{staged} lacks {', '.join(missing)}; refusing to publish an incomplete ladder"
            )
        body = [(rel, path) for rel, path in files.items() if rel not in COMMIT_LAST]
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            list(pool.map(lambda item: self._put(item[0], item[1], prefix), body))
        self._verify(prefix, {rel: os.path.getsize(path) for rel, path in body})
        for rel in COMMIT_LAST:
            self._put(rel, files[rel], prefix)
        shutil.rmtree(staged, ignore_errors=True)
        return self.location(prefix)

    def _verify(self, prefix: str, expected: dict[str, int]) -> None:
        seen: dict[str, int] = {}
        paginator = self.client.get_paginator("list_objects_v2")
        base = self._key(prefix) + "/"
        for page in paginator.paginate(Bucket=self.bucket, Prefix=base):
            for item in page.get("Contents", []):
                seen[item["Key"][len(base) :]] = int(item["Size"])
        wrong = sorted(rel for rel, size in expected.items() if seen.get(rel) != size)
        if wrong:
            raise PublishError(
                f"{len(wrong)} object(s) missing or short after upload, e.g. {wrong[:3]}"
            )
