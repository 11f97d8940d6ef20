"""Where model versions live: a local model root, or an S3 prefix that several servers share.

A store answers two questions, "which version is CURRENT?" and "give me version V as a local directory",
so the server, `warm-cache` and `inspect` read every registry the same way.

S3 layout (`s3://BUCKET/PREFIX`):

    PREFIX/CURRENT                          -> the served version's name (written last)
    PREFIX/versions/<version>/<file>        one object per artifact file (artifacts.py)
    PREFIX/versions/<version>/MANIFEST.json {"version", "files": {name: {"size", "sha256"}}}

Publishing uploads every file (each PUT carries Content-MD5, so S3 rejects a body damaged in transit),
then checks each object's size with a HEAD, then writes the manifest, and only then the pointer: a reader
that sees a new CURRENT always finds a complete, verified version behind it. Readers download a version
into a local cache directory (a staging directory renamed into place, so worker processes that race
share one copy), check every file's size and SHA-256 against the manifest, and load it from there
memory-mapped. Servers poll CURRENT; every server on one bucket therefore converges on the version the
pointer names.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional, Protocol
from urllib.parse import urlsplit

from netflix_clone.recommendation_service.adapters.artifacts import VERSION_PATTERN, current_version, version_files
from netflix_clone.recommendation_service.errors import RegistryError, RegistryUriError

__all__ = [
    "LocalStore",
    "ModelStore",
    "RegistryError",
    "S3Store",
    "default_cache_dir",
    "open_store",
    "publish",
]

_log = logging.getLogger(__name__)
_CHUNK = 1 << 20
MANIFEST = "MANIFEST.json"
POINTER = "CURRENT"


class ModelStore(Protocol):
    uri: str

    def current_version(self) -> str:
        ...

    def materialize(self, version: str) -> Path:
        """A local directory holding `version` (its name is the version)."""


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.uri = str(root)

    def current_version(self) -> str:
        return current_version(self.root)

    def materialize(self, version: str) -> Path:
        return self.root / version


def default_cache_dir() -> Path:
    """Where S3 versions are kept when no ``--model-cache-dir``/``NFC_RECO_MODEL_CACHE_DIR`` is given."""
    return Path(tempfile.gettempdir()) / "recommendation-service-models"


def _s3_client() -> Any:
    import boto3
    from botocore.config import Config

    # AWS_ENDPOINT_URL (moto in tests, MinIO or LocalStack elsewhere) is honoured by boto3 itself.
    config = Config(
        connect_timeout=5,
        read_timeout=30,
        retries={"max_attempts": 4, "mode": "standard"},
    )
    return boto3.client("s3", config=config)


def parse_s3_uri(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise RegistryUriError(f"not an s3://bucket/prefix URI: {uri[:80]!r}")
    return parts.netloc, parts.path.strip("/")


class S3Store:
    def __init__(self, uri: str, *, cache_dir: Optional[Path] = None, client: Optional[Any] = None) -> None:
        self.bucket, self.prefix = parse_s3_uri(uri)
        self.uri = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        self.cache_dir = (cache_dir or default_cache_dir()) / self.bucket / (self.prefix or "_")
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = _s3_client()
        return self._client

    def key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def _errors(self) -> tuple[type[BaseException], ...]:
        from botocore.exceptions import BotoCoreError, ClientError

        return (BotoCoreError, ClientError, OSError)

    def current_version(self) -> str:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.key(POINTER))["Body"]
            version = body.read(256).decode("utf-8", "replace").strip()
        except self._errors() as exc:
            raise RegistryError(f"cannot read {self.uri}/{POINTER}: {_short(exc)}") from exc
        if not VERSION_PATTERN.match(version):
            raise RegistryError(f"{self.uri}/{POINTER} holds an invalid version {version[:64]!r}")
        return str(version)

    def materialize(self, version: str) -> Path:
        if not VERSION_PATTERN.match(version):
            raise RegistryError(f"invalid model version {version[:64]!r}")
        final = self.cache_dir / version
        if (final / MANIFEST).exists():
            return final
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=self.cache_dir))
        try:
            manifest = self._download_verified(version, staging)
            (staging / MANIFEST).write_text(json.dumps(manifest, sort_keys=True), encoding="utf-8")
            try:
                os.rename(staging, final)
            except OSError:
                if not (final / MANIFEST).exists():  # not another worker's complete copy
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self._prune(keep=final)
        return final

    def _download_verified(self, version: str, staging: Path) -> dict[str, Any]:
        prefix = self.key("versions", version)
        try:
            raw = self.client.get_object(Bucket=self.bucket, Key=f"{prefix}/{MANIFEST}")["Body"]
            manifest = json.loads(raw.read())
            files = manifest["files"]
            if manifest.get("version") != version or not isinstance(files, dict):
                raise ValueError("manifest names another version")
        except self._errors() as exc:
            raise RegistryError(f"cannot read {self.uri}/versions/{version}/{MANIFEST}: {_short(exc)}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise RegistryError(f"{self.uri}/versions/{version}/{MANIFEST} is malformed") from exc
        for name, expected in sorted(files.items()):
            if "/" in name or name.startswith(".") or name == MANIFEST:
                raise RegistryError(f"manifest of {version} lists an invalid file {name[:64]!r}")
            target = staging / name
            try:
                self.client.download_file(self.bucket, f"{prefix}/{name}", str(target))
            except self._errors() as exc:
                raise RegistryError(f"cannot download {self.uri}/versions/{version}/{name}: {_short(exc)}") from exc
            size, digest = _digest(target)
            if size != expected.get("size") or digest != expected.get("sha256"):
                raise RegistryError(
                    f"{self.uri}/versions/{version}/{name} does not match its manifest "
                    f"(size {size} vs {expected.get('size')}, sha256 {digest[:12]}…)"
                )
        return dict(manifest)

    def _prune(self, keep: Path, retain: int = 3) -> None:
        """Drop all but the newest few cached versions (a served version's files stay mapped)."""
        try:
            versions = sorted(
                (p for p in self.cache_dir.iterdir() if p.is_dir() and not p.name.startswith(".")),
                key=lambda p: p.stat().st_mtime,
            )
            for old in versions[:-retain]:
                if old != keep:
                    shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass

    def publish(self, directory: Path) -> str:
        """Upload a saved version directory, verify it, then point CURRENT at it."""
        version = directory.name
        if not VERSION_PATTERN.match(version):
            raise RegistryError(f"invalid model version {version[:64]!r}")
        prefix = self.key("versions", version)
        files: dict[str, dict[str, Any]] = {}
        try:
            for path in version_files(directory):
                size, digest = _digest(path)
                md5 = _md5_b64(path)
                with open(path, "rb") as body:
                    self.client.put_object(
                        Bucket=self.bucket,
                        Key=f"{prefix}/{path.name}",
                        Body=body,
                        ContentMD5=md5,
                        ContentLength=size,
                        Metadata={"sha256": digest},
                    )
                files[path.name] = {"size": size, "sha256": digest}
            for name, expected in files.items():
                head = self.client.head_object(Bucket=self.bucket, Key=f"{prefix}/{name}")
                if int(head["ContentLength"]) != expected["size"]:
                    raise RegistryError(
                        f"{self.uri}/versions/{version}/{name} holds {head['ContentLength']} "
                        f"bytes after upload, expected {expected['size']}"
                    )
            manifest = {"version": version, "files": files}
            self.client.put_object(
                Bucket=self.bucket,
                Key=f"{prefix}/{MANIFEST}",
                Body=json.dumps(manifest, sort_keys=True).encode(),
                ContentType="application/json",
            )
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.key(POINTER),
                Body=(version + "\n").encode(),
                ContentType="text/plain",
            )
        except self._errors() as exc:
            raise RegistryError(f"publishing {version} to {self.uri} failed: {_short(exc)}") from exc
        _log.info("published model %s to %s", version, self.uri)
        return f"{self.uri}/versions/{version}"


def open_store(uri: str, *, cache_dir: Optional[Path] = None) -> ModelStore:
    """`s3://bucket/prefix` or a local model root (a path, or file:///path)."""
    if uri.startswith("s3://"):
        return S3Store(uri, cache_dir=cache_dir)
    return LocalStore(Path(uri.removeprefix("file://")))


def publish(directory: Path, uri: str) -> str:
    store = open_store(uri)
    if not isinstance(store, S3Store):
        raise RegistryUriError(f"--publish takes an s3://bucket/prefix URI, not {uri[:80]!r}")
    return store.publish(directory)


def _digest(path: Path) -> tuple[int, str]:
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()


def _md5_b64(path: Path) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            md5.update(chunk)
    return base64.b64encode(md5.digest()).decode()


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}"
