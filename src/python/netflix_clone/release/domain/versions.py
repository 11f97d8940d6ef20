"""Semantic Versioning 2.0.0 (https://semver.org): parsing, precedence and the next version.

Bump rules, from the commits since the last release:

* a breaking change bumps MAJOR, a ``feat`` MINOR, a ``fix``/``perf``/revert of released work PATCH;
  ``docs``, ``chore``, ``refactor``, ``test``, ``build``, ``ci`` and ``style`` alone release nothing.
* Below 1.0.0 (initial development, where SemVer says anything may change) a breaking change bumps
  MINOR instead of MAJOR, and ``feat`` bumps MINOR too; fixes bump PATCH. Going to 1.0.0 is a decision,
  not a side effect of a commit: ``release --next-version 1.0.0``.
* Without any earlier release the base is 0.0.0, so the first release is 0.1.0 (0.0.1 with fixes only).
* A pre-release (``--pre rc``) is the next stable version with ``-rc.N``, N one more than the highest
  ``-rc.N`` tag of that version (1 when there is none). Pre-release tags never become the base: the
  commits of ``v1.3.0-rc.1`` and ``-rc.2`` are still counted when ``v1.3.0`` is cut from ``v1.2.0``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from functools import total_ordering
from typing import Iterable, Optional

from netflix_clone.release.errors import VersionError

__all__ = [
    "Bump",
    "Version",
    "VersionError",
    "bump_version",
    "next_prerelease",
    "parse_tag",
]

# The regular expression semver.org publishes, named groups.
_SEMVER_RE = re.compile(
    r"^(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<prerelease>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
_LABEL_RE = re.compile(r"^[a-z][a-z0-9-]*$")


class Bump(IntEnum):
    NONE = 0
    PATCH = 1
    MINOR = 2
    MAJOR = 3

    @property
    def label(self) -> str:
        return self.name.lower()


def _prerelease_key(identifiers: tuple[str, ...]) -> tuple[tuple[int, int, str], ...]:
    # Numeric identifiers sort numerically and below alphanumeric ones (semver.org, item 11).
    return tuple((0, int(i), "") if i.isdigit() else (1, 0, i) for i in identifiers)


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> "Version":
        match = _SEMVER_RE.match(text.strip())
        if not match:
            raise VersionError(f"{text!r} is not a semantic version (MAJOR.MINOR.PATCH[-PRERELEASE])")
        pre = match.group("prerelease")
        return cls(
            int(match.group("major")),
            int(match.group("minor")),
            int(match.group("patch")),
            tuple(pre.split(".")) if pre else (),
        )

    def __str__(self) -> str:
        core = f"{self.major}.{self.minor}.{self.patch}"
        return f"{core}-{'.'.join(self.prerelease)}" if self.prerelease else core

    @property
    def tag(self) -> str:
        return f"v{self}"

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    @property
    def core(self) -> "Version":
        return Version(self.major, self.minor, self.patch)

    def _key(self) -> tuple[object, ...]:
        # A pre-release sorts before its release: (x, y, z, 0, ids) < (x, y, z, 1, ()).
        return (
            self.major,
            self.minor,
            self.patch,
            0 if self.prerelease else 1,
            _prerelease_key(self.prerelease),
        )

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()


def parse_tag(tag: str, prefix: str = "v") -> Optional[Version]:
    """The version of a release tag such as ``v1.2.3`` or ``v1.3.0-rc.2``; None for other tags."""
    if not tag.startswith(prefix):
        return None
    try:
        return Version.parse(tag[len(prefix) :])
    except VersionError:
        return None


def bump_version(base: Optional[Version], bump: Bump) -> Version:
    """The next stable version after ``base`` (0.0.0 when there is no release yet)."""
    if bump is Bump.NONE:
        raise VersionError("nothing to bump")
    current = base.core if base is not None else Version(0, 0, 0)
    if current.major == 0 and bump is Bump.MAJOR:
        bump = Bump.MINOR  # initial development: breaking changes bump the minor version
    if bump is Bump.MAJOR:
        return Version(current.major + 1, 0, 0)
    if bump is Bump.MINOR:
        return Version(current.major, current.minor + 1, 0)
    return Version(current.major, current.minor, current.patch + 1)


def next_prerelease(target: Version, label: str, existing: Iterable[Version]) -> Version:
    """``target-label.N`` with N one past the highest existing ``target-label.N`` (so gaps are kept)."""
    if not _LABEL_RE.match(label):
        raise VersionError(f"pre-release label {label!r} must be lower-case letters, digits or '-'")
    numbers = [
        int(v.prerelease[1])
        for v in existing
        if v.core == target.core and len(v.prerelease) == 2 and v.prerelease[0] == label and v.prerelease[1].isdigit()
    ]
    return Version(target.major, target.minor, target.patch, (label, str(max(numbers, default=0) + 1)))
