"""Publishing a staged ladder so that it becomes visible all at once, or not at all.

Output names derive from the job key (input hash + settings), and the outputs themselves are
byte-identical across reruns (``adapters.encode``: fixed threads, ``+bitexact``; run statistics stay
out of the manifest), so a rerun writes the same names *and* the same bytes - which publishing checks
by content hash rather than assumes.

* Local directory: the job stages under ``<root>/.staging/`` on the same filesystem and the finished
  tree is moved into place with one ``rename`` - atomic on POSIX. If the same key is already there
  (an earlier or concurrent identical job, or ``--force``), the trees are compared file by file by
  SHA-256: identical trees are left alone, a differing one is swapped for the new one.
  A crash leaves only a staging directory, removed by the next run after ``stale_after_s``.
* S3: there is no multi-object transaction, so visibility is defined by two entry points written
  last: every segment, playlist and image is uploaded and its size verified by listing, then
  ``master.m3u8``, then ``manifest.json`` (the commit marker). Nothing refers to the prefix before the
  manifest exists (the catalog row comes after it). Every object carries its SHA-256 as metadata;
  an object already under the key with the same hash is not uploaded again (a rerun after a crash
  completes the commit, re-uploading nothing it had), one with a different hash is replaced and
  counted as such.

Every prefix is checked before use: each segment must be a safe title id/job key
(``contracts.catalog.TITLE_ID_PATTERN``), and a local path must resolve inside the output root.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Optional, Protocol

from netflix_clone.contracts.catalog import InvalidTitleId, check_title_id
from netflix_clone.video_processor.errors import PublishError

__all__ = [
    "COMMIT_LAST",
    "LocalPublisher",
    "MANIFEST",
    "PublishError",
    "Published",
    "Publisher",
    "S3Publisher",
    "check_prefix",
]

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


@dataclass
class Published:
    location: str
    counts: dict[str, int] = field(default_factory=dict)  # uploaded / unchanged / replaced


class Publisher(Protocol):
    def location(self, prefix: str) -> str:
        ...

    def staging_dir(self, prefix: str) -> str:
        ...

    def published_manifest(self, prefix: str) -> Optional[dict[str, Any]]:
        ...

    def publish(self, staged: str, prefix: str) -> Published:
        ...


def check_prefix(prefix: str) -> list[str]:
    """The segments of a relative key prefix, each a safe id; PublishError otherwise."""
    if not isinstance(prefix, str) or not prefix:
        raise PublishError("empty publish prefix")
    parts = prefix.split("/")
    try:
        for part in parts:
            check_title_id(part)
    except InvalidTitleId as exc:
        raise PublishError(f"unsafe publish prefix {prefix!r}: {exc}") from None
    return parts


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(root: str) -> Iterator[tuple[str, str]]:
    for directory, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(directory, name)
            yield os.path.relpath(path, root).replace(os.sep, "/"), path


class LocalPublisher:
    def __init__(self, root: str, stale_after_s: float = 6 * 3600.0) -> None:
        self.root = os.path.realpath(os.path.abspath(root))
        self.stale_after_s = stale_after_s

    def _path(self, prefix: str) -> str:
        """``root/prefix``, refused unless it resolves (symlinks too) strictly inside the root."""
        check_prefix(prefix)
        path = os.path.realpath(os.path.join(self.root, prefix))
        if os.path.commonpath([self.root, path]) != self.root or path == self.root:
            raise PublishError(f"publish prefix {prefix!r} resolves outside {self.root}")
        return path

    def location(self, prefix: str) -> str:
        return "file://" + self._path(prefix)

    def staging_dir(self, prefix: str) -> str:
        self._path(prefix)
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
        path = os.path.join(self._path(prefix), MANIFEST)
        try:
            with open(path, encoding="utf-8") as handle:
                manifest: dict[str, Any] = json.load(handle)
                return manifest
        except FileNotFoundError:
            return None

    def publish(self, staged: str, prefix: str) -> Published:
        if not os.path.exists(os.path.join(staged, MANIFEST)):
            raise PublishError(f"{staged} has no {MANIFEST}; refusing to publish an incomplete ladder")
        final = self._path(prefix)
        new = {rel: sha256_file(path) for rel, path in _files(staged)}
        os.makedirs(os.path.dirname(final), exist_ok=True)
        try:
            os.rename(staged, final)
            return Published(self.location(prefix), {"uploaded": len(new)})
        except OSError:
            if not os.path.isdir(final):
                raise
        # The key is already published (an earlier or concurrent identical job, or --force).
        old = {rel: sha256_file(path) for rel, path in _files(final)}
        if old == new:
            shutil.rmtree(staged, ignore_errors=True)
            return Published(self.location(prefix), {"unchanged": len(new)})
        counts = {
            "uploaded": sum(1 for rel in new if rel not in old),
            "unchanged": sum(1 for rel, h in new.items() if old.get(rel) == h),
            "replaced": sum(1 for rel, h in new.items() if rel in old and old[rel] != h),
        }
        retired = f"{final}.old-{uuid.uuid4().hex[:8]}"
        os.rename(final, retired)
        os.rename(staged, final)
        shutil.rmtree(retired, ignore_errors=True)
        return Published(self.location(prefix), counts)


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
        if self.base_prefix:
            check_prefix(self.base_prefix)  # operator-set, but it becomes part of every key
        self.work_dir = work_dir or os.path.join(os.path.expanduser("~"), ".cache", "netflix-clone", "video-staging")
        self.max_workers = max_workers

    def _key(self, prefix: str, rel: str = "") -> str:
        check_prefix(prefix)
        parts = [p for p in (self.base_prefix, prefix.strip("/"), rel) if p]
        return "/".join(parts)

    def location(self, prefix: str) -> str:
        return f"s3://{self.bucket}/{self._key(prefix)}"

    def staging_dir(self, prefix: str) -> str:
        check_prefix(prefix)
        os.makedirs(self.work_dir, exist_ok=True)
        path = os.path.join(self.work_dir, f"{prefix.replace('/', '_')}-{uuid.uuid4().hex[:8]}")
        os.makedirs(path)
        return path

    def published_manifest(self, prefix: str) -> Optional[dict[str, Any]]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(prefix, MANIFEST))["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None
        manifest: dict[str, Any] = json.loads(body)
        return manifest

    def _listing(self, prefix: str) -> dict[str, int]:
        seen: dict[str, int] = {}
        paginator = self.client.get_paginator("list_objects_v2")
        base = self._key(prefix) + "/"
        for page in paginator.paginate(Bucket=self.bucket, Prefix=base):
            for item in page.get("Contents", []):
                seen[item["Key"][len(base) :]] = int(item["Size"])
        return seen

    def _stored_sha256(self, prefix: str, rel: str) -> Optional[str]:
        head = self.client.head_object(Bucket=self.bucket, Key=self._key(prefix, rel))
        value = (head.get("Metadata") or {}).get("sha256")
        return str(value) if value else None

    def _put(self, rel: str, path: str, prefix: str, digest: str) -> None:
        extension = os.path.splitext(rel)[1]
        content_type = _TYPES.get(extension) or mimetypes.guess_type(rel)[0] or "application/octet-stream"
        # Playlists and the manifest are small and must never be served stale after a republish.
        cache = "max-age=60" if extension in (".m3u8", ".json") else "public, max-age=31536000, immutable"
        self.client.upload_file(
            path,
            self.bucket,
            self._key(prefix, rel),
            ExtraArgs={
                "ContentType": content_type,
                "CacheControl": cache,
                "Metadata": {"sha256": digest},
            },
        )

    def publish(self, staged: str, prefix: str) -> Published:
        files = dict(_files(staged))
        missing = [name for name in COMMIT_LAST if name not in files]
        if missing:
            raise PublishError(f"{staged} lacks {', '.join(missing)}; refusing to publish an incomplete ladder")
        digests = {rel: sha256_file(path) for rel, path in files.items()}
        existing = self._listing(prefix)
        counts = {"uploaded": 0, "unchanged": 0, "replaced": 0}

        def decide(rel: str) -> str:
            """uploaded (new key), unchanged (same bytes already there) or replaced."""
            if rel not in existing:
                return "uploaded"
            same_size = existing[rel] == os.path.getsize(files[rel])
            if same_size and self._stored_sha256(prefix, rel) == digests[rel]:
                return "unchanged"
            return "replaced"

        def put(rel: str) -> str:
            verdict = decide(rel)
            if verdict != "unchanged":
                self._put(rel, files[rel], prefix, digests[rel])
            return verdict

        body = [rel for rel in files if rel not in COMMIT_LAST]
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            for verdict in pool.map(put, body):
                counts[verdict] += 1
        self._verify(prefix, {rel: os.path.getsize(files[rel]) for rel in body})
        for rel in COMMIT_LAST:
            counts[put(rel)] += 1
        shutil.rmtree(staged, ignore_errors=True)
        return Published(self.location(prefix), counts)

    def _verify(self, prefix: str, expected: dict[str, int]) -> None:
        seen = self._listing(prefix)
        wrong = sorted(rel for rel, size in expected.items() if seen.get(rel) != size)
        if wrong:
            raise PublishError(f"{len(wrong)} object(s) missing or short after upload, e.g. {wrong[:3]}")
