"""Which service images a commit touched, from the files it changed.

With Pants (the default): an image is touched when the commit changed a file of the image's transitive
closure - the files ``pants filedeps --transitive docker/<service>`` lists (its Dockerfile, the pex, every
first-party source and BUILD file it depends on, the requirements and the lockfile). This is the same
dependency graph ``pants --changed-diffspec=<sha> --changed-dependents=transitive list`` walks backwards,
computed once per image instead of once per commit; like Pants, it uses the BUILD files of the checked-out
tree. A path that no longer exists there (deleted or renamed later) counts for an image when its directory
holds a file of the image's closure.

Without Pants (not installed, or it failed): path prefixes - ``docker/<service>/`` and
``src/python/netflix_clone/<service_package>/`` for that service; the shared ``platform/`` and
``contracts/`` packages, ``3rdparty/`` and the package root for every service. The output says which was
used.
"""

from __future__ import annotations

import posixpath
from typing import AbstractSet, Iterable, Mapping

__all__ = ["SHARED_PREFIXES", "touched_by_closure", "touched_by_prefix"]

SHARED_PREFIXES = (
    "src/python/netflix_clone/platform/",
    "src/python/netflix_clone/contracts/",
    "src/python/netflix_clone/__init__.py",
    "src/python/netflix_clone/BUILD",
    "3rdparty/",
)


def touched_by_closure(
    files: Iterable[str],
    closures: Mapping[str, AbstractSet[str]],
    existing: AbstractSet[str] = frozenset(),
) -> tuple[str, ...]:
    """Images whose closure contains one of ``files``; ``existing`` are the paths of the checked-out
    tree (paths absent from it are matched by directory)."""
    touched = set()
    directories = {image: {posixpath.dirname(path) for path in closure} for image, closure in closures.items()}
    for path in files:
        for image, closure in closures.items():
            if path in closure:
                touched.add(image)
            elif existing and path not in existing and posixpath.dirname(path) in directories[image]:
                touched.add(image)
    return tuple(sorted(touched))


def touched_by_prefix(files: Iterable[str], images: Iterable[str]) -> tuple[str, ...]:
    """Images a change touches by path alone (the fallback when Pants cannot answer)."""
    names = sorted(images)
    touched = set()
    for path in files:
        if path.startswith(SHARED_PREFIXES):
            touched.update(names)
            continue
        for image in names:
            package = image.replace("-", "_")
            if path.startswith((f"docker/{image}/", f"src/python/netflix_clone/{package}/")):
                touched.add(image)
    return tuple(sorted(touched))
