"""Model artifacts: one directory per version under a model root, and a CURRENT pointer file.

    ROOT/
      CURRENT                      -> "20261126T164501.123456Z-1a2b3c4d-5e6f" (replaced atomically)
      20261126T164501.123456Z-1a2b3c4d-5e6f/
        metadata.json  user_factors.npy  item_factors.npy  item_unit.npy  user_ids.npy  item_ids.npy
        popularity.npy  trending.npy  seen.npz  [ann_ip.bin  ann_cosine.bin]

A version is written to a temporary sibling directory and renamed into place, so a reader never sees a
half-written model; CURRENT is then swapped with os.replace. Versions carry microseconds, the data hash
and a random suffix; should a name still be taken when the rename happens (two trainings of the same
data in the same microsecond), the suffix is drawn again, so concurrent trainings into one root both
succeed.

Loading memory-maps the float arrays (`mmap_mode="r"`): server worker processes that load the same
version share one copy in the page cache instead of one copy each.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np
import scipy.sparse as sp

from netflix_clone.recommendation_service.adapters.hnsw_index import AnnIndex
from netflix_clone.recommendation_service.domain.model import FORMAT_VERSION, RecommenderModel
from netflix_clone.recommendation_service.errors import ModelError

__all__ = [
    "LoadedModel",
    "VERSION_PATTERN",
    "current_version",
    "load_model",
    "new_version",
    "save_model",
    "version_files",
]

_ARRAYS = {
    "user_factors": np.float32,
    "item_factors": np.float32,
    "popularity": np.float32,
    "trending": np.float32,
}
_ID_ARRAYS = ("user_ids", "item_ids")
ANN_FILES = {"ip": "ann_ip.bin", "cosine": "ann_cosine.bin"}
# Unit-length item vectors for similar-title search, precomputed so workers can share them (optional:
# models written before it existed compute them at load).
UNIT_ITEMS = "item_unit"
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def new_version(data_hash: str, created: float) -> str:
    """`YYYYmmddTHHMMSS.ffffffZ-<data hash>-<random>`: sorts by time, unique well below the second.

    >>> new_version("0123456789abcdef", 1764607501.25)[:33]
    '20251201T164501.250000Z-01234567-'
    """
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(created))
    micros = int(round((created % 1) * 1_000_000)) % 1_000_000
    return f"{stamp}.{micros:06d}Z-{data_hash[:8]}-{secrets.token_hex(2)}"


def _with_new_suffix(version: str) -> str:
    head, _, tail = version.rpartition("-")
    base = head if head and len(tail) == 4 else version
    return f"{base}-{secrets.token_hex(2)}"


class LoadedModel:
    def __init__(self, model: RecommenderModel, ann: dict[str, AnnIndex], unit_items: Any = None) -> None:
        self.model = model
        self.ann = ann
        self.unit_items = unit_items


def save_model(root: Path, model: RecommenderModel, ann: Optional[dict[str, AnnIndex]] = None) -> Path:
    """Write `model` as a new version under `root` and point CURRENT at it; returns the version's
    directory, whose name is the version actually used (a fresh suffix if the proposed one was taken).
    """
    root.mkdir(parents=True, exist_ok=True)
    version = model.version
    if not VERSION_PATTERN.match(version):
        raise ModelError(f"invalid model version {version[:64]!r}")
    staging = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=root))
    try:
        for name in (*_ARRAYS, *_ID_ARRAYS):
            array = getattr(model, name)
            if name in _ID_ARRAYS:
                array = np.asarray(array, dtype=np.str_)
            np.save(staging / f"{name}.npy", np.asarray(array), allow_pickle=False)
        np.save(staging / f"{UNIT_ITEMS}.npy", unit_rows(model.item_factors), allow_pickle=False)
        sp.save_npz(staging / "seen.npz", model.seen.tocsr(), compressed=True)
        for space, index in (ann or {}).items():
            index.save(staging / ANN_FILES[space])
        final = _rename_into_place(staging, root, version, model.metadata)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    pointer = Path(tempfile.mkstemp(prefix=".CURRENT.", dir=root)[1])
    pointer.write_text(final.name + "\n", encoding="utf-8")
    os.replace(pointer, root / "CURRENT")
    return final


def _rename_into_place(staging: Path, root: Path, version: str, metadata: dict[str, Any]) -> Path:
    for _ in range(8):
        (staging / "metadata.json").write_text(
            json.dumps(
                {**metadata, "version": version, "format_version": FORMAT_VERSION},
                indent=2,
                sort_keys=True,
            ),
            encoding="utf-8",
        )
        _fsync_dir(staging)
        final = root / version
        if not final.exists():
            try:
                os.rename(staging, final)
                return final
            except OSError as exc:  # another writer took the name between the check and the rename
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
        version = _with_new_suffix(version)
    raise FileExistsError(f"could not find a free version name under {root}")


def unit_rows(vectors: Any) -> Any:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms == 0, 1.0, norms)).astype(np.float32)


def version_files(directory: Path) -> list[Path]:
    """The files that make up one saved version (what a registry uploads)."""
    return sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))


def _fsync_dir(path: Path) -> None:
    for child in path.iterdir():
        with open(child, "rb") as handle:
            os.fsync(handle.fileno())


def current_version(root: Path) -> str:
    pointer = root / "CURRENT"
    try:
        version = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ModelError(f"no model in {root}: {pointer} is missing (run `train` first)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{pointer} is unreadable: {type(exc).__name__}") from exc
    if not VERSION_PATTERN.match(version):
        raise ModelError(f"{pointer} holds an invalid version {version[:64]!r}")
    return version


def load_model(root: Path, version: Optional[str] = None, *, mmap: bool = True) -> LoadedModel:
    """Read one version. Every way a file can be damaged (missing, truncated, wrong dtype or shape,
    garbage) ends in a one-line `ModelError` naming the file."""
    version = version or current_version(root)
    if not VERSION_PATTERN.match(version):
        raise ModelError(f"invalid model version {version[:64]!r}")
    directory = root / version
    if not directory.is_dir():
        raise ModelError(f"model version {version} not found in {root}")
    metadata = _read_metadata(directory)
    mode = "r" if mmap else None
    arrays: dict[str, Any] = {}
    for name, dtype in _ARRAYS.items():
        arrays[name] = _read_array(directory, name, mode)
        if arrays[name].dtype != dtype:
            raise ModelError(f"{directory}/{name}.npy has dtype {arrays[name].dtype}, expected {np.dtype(dtype)}")
    for name in _ID_ARRAYS:
        arrays[name] = _read_array(directory, name, None)
        if arrays[name].dtype.kind != "U":
            raise ModelError(f"{directory}/{name}.npy holds {arrays[name].dtype}, expected unicode ids")
    try:
        seen = sp.load_npz(directory / "seen.npz").tocsr()
    except FileNotFoundError:
        raise ModelError(f"{directory}/seen.npz is missing") from None
    except Exception as exc:  # zipfile, zlib, EOF, shape errors: all mean a damaged file
        raise ModelError(f"{directory}/seen.npz is unreadable ({_reason(exc)})") from exc
    try:
        model = RecommenderModel(version=version, seen=seen, metadata=metadata, **arrays)
    except ValueError as exc:  # the parts do not fit together
        raise ModelError(str(exc)) from None
    unit = None
    if (directory / f"{UNIT_ITEMS}.npy").exists():
        unit = _read_array(directory, UNIT_ITEMS, mode)
        if unit.shape != model.item_factors.shape or unit.dtype != np.float32:
            raise ModelError(f"{directory}/{UNIT_ITEMS}.npy does not match item_factors")
    ann: dict[str, AnnIndex] = {}
    for space, info in metadata.get("ann", {}).items():
        if space not in ANN_FILES:
            raise ModelError(f"{directory}/metadata.json lists an unknown ANN space {space!r}")
        path = directory / ANN_FILES[space]
        if not path.exists():
            raise ModelError(f"metadata lists an {space} ANN index but {path} is missing")
        try:
            ann[space] = AnnIndex.load(path, space, model.factors, model.n_items, int(info["ef"]))
        except Exception as exc:
            raise ModelError(f"{path} is unreadable ({_reason(exc)})") from exc
    return LoadedModel(model, ann, unit)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


def _read_metadata(directory: Path) -> dict[str, Any]:
    path = directory / "metadata.json"
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path} is not valid JSON ({_reason(exc)})") from exc
    if not isinstance(metadata, dict):
        raise ModelError(f"{path} does not hold a JSON object")
    found = metadata.get("format_version")
    if found != FORMAT_VERSION:
        raise ModelError(f"{directory} has model format version {found!r}; this build reads {FORMAT_VERSION}")
    return dict(metadata)


def _read_array(directory: Path, name: str, mmap_mode: Optional[str]) -> Any:
    path = directory / f"{name}.npy"
    try:
        if mmap_mode == "r":
            return np.load(path, allow_pickle=False, mmap_mode="r")
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ModelError(f"{path} is missing") from None
    except Exception as exc:  # truncated or garbage: ValueError, EOFError, OSError
        raise ModelError(f"{path} is unreadable ({_reason(exc)})") from exc
