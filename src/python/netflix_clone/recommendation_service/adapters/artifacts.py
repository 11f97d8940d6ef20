"""Model artifacts: one directory per version under a model root, and a CURRENT pointer file.

    ROOT/
      CURRENT                      -> "20261126T164501Z-1a2b3c4d" (replaced atomically)
      20261126T164501Z-1a2b3c4d/
        metadata.json  user_factors.npy  item_factors.npy  user_ids.npy  item_ids.npy
        popularity.npy  trending.npy  seen.npz  [ann_ip.bin  ann_cosine.bin]

A version is written to a temporary sibling directory and renamed into place, so a reader never sees a
half-written model; CURRENT is then swapped with os.replace.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional

import numpy as np
import scipy.sparse as sp

from netflix_clone.recommendation_service.ann import AnnIndex
from netflix_clone.recommendation_service.domain.model import (
    FORMAT_VERSION,
    ModelError,
    RecommenderModel,
)

__all__ = ["LoadedModel", "current_version", "load_model", "save_model"]

_ARRAYS = {
    "user_factors": np.float32,
    "item_factors": np.float32,
    "popularity": np.float32,
    "trending": np.float32,
}
_ID_ARRAYS = ("user_ids", "item_ids")
ANN_FILES = {"ip": "ann_ip.bin", "cosine": "ann_cosine.bin"}


class LoadedModel:
    def __init__(self, model: RecommenderModel, ann: dict[str, AnnIndex]) -> None:
        self.model = model
        self.ann = ann


def save_model(
    root: Path, model: RecommenderModel, ann: Optional[dict[str, AnnIndex]] = None
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    final = root / model.version
    if final.exists():
        raise FileExistsError(f"model version {model.version} already exists in {root}")
    staging = Path(tempfile.mkdtemp(prefix=f".{model.version}.", dir=root))
    try:
        for name in (*_ARRAYS, *_ID_ARRAYS):
            array = getattr(model, name)
            if name in _ID_ARRAYS:
                array = np.asarray(array, dtype=np.str_)
            np.save(staging / f"{name}.npy", array, allow_pickle=False)
        sp.save_npz(staging / "seen.npz", model.seen.tocsr(), compressed=True)
        for space, index in (ann or {}).items():
            index.save(staging / ANN_FILES[space])
        metadata = {**model.metadata, "version": model.version, "format_version": FORMAT_VERSION}
        (staging / "metadata.json").write_text(
            json.dumps(metadata, indent=2, sort_keys=True), encoding="utf-8"
        )
        _fsync_dir(staging)
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    pointer = root / ".CURRENT.tmp"
    pointer.write_text(model.version + "\n", encoding="utf-8")
    os.replace(pointer, root / "CURRENT")
    return final


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
    if not version or "/" in version or version.startswith("."):
        raise ModelError(f"{pointer} holds an invalid version {version!r}")
    return version


def load_model(root: Path, version: Optional[str] = None) -> LoadedModel:
    version = version or current_version(root)
    directory = root / version
    if not directory.is_dir():
        raise ModelError(f"model version {version} not found in {root}")
    metadata = _read_metadata(directory)
    arrays: dict[str, Any] = {}
    for name, dtype in _ARRAYS.items():
        arrays[name] = _read_array(directory, name)
        if arrays[name].dtype != dtype:
            raise ModelError(
                f"{directory}/{name}.npy has dtype {arrays[name].dtype}, expected {np.dtype(dtype)}"
            )
    for name in _ID_ARRAYS:
        arrays[name] = _read_array(directory, name)
        if arrays[name].dtype.kind != "U":
            raise ModelError(
                f"{directory}/{name}.npy holds {arrays[name].dtype}, expected unicode ids"
            )
    try:
        seen = sp.load_npz(directory / "seen.npz").tocsr()
    except (OSError, ValueError) as exc:
        raise ModelError(f"{directory}/seen.npz is unreadable: {exc}") from exc
    model = RecommenderModel(version=version, seen=seen, metadata=metadata, **arrays)
    ann: dict[str, AnnIndex] = {}
    for space, info in metadata.get("ann", {}).items():
        path = directory / ANN_FILES[space]
        if not path.exists():
            raise ModelError(f"metadata lists an {space} ANN index but {path} is missing")
        ann[space] = AnnIndex.load(path, space, model.factors, model.n_items, int(info["ef"]))
    return LoadedModel(model, ann)


def _read_metadata(directory: Path) -> dict[str, Any]:
    path = directory / "metadata.json"
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path} is missing") from None
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path} is not valid JSON: {exc}") from exc
    found = metadata.get("format_version")
    if found != FORMAT_VERSION:
        raise ModelError(
            f"{directory} has model format version {found!r}; this build reads {FORMAT_VERSION}"
        )
    return dict(metadata)


def _read_array(directory: Path, name: str) -> Any:
    path = directory / f"{name}.npy"
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ModelError(f"{path} is missing") from None
    except ValueError as exc:
        raise ModelError(f"{path} is unreadable: {exc}") from exc
