"""Semantic versions: parsing, precedence (semver.org item 11), bumps before and after 1.0, rc numbering."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netflix_clone.release.domain.versions import Bump, Version, VersionError, bump_version, next_prerelease, parse_tag


def test_parse_and_format_round_trip() -> None:
    for text in ("0.1.0", "1.2.3", "10.20.30", "1.0.0-rc.1", "1.0.0-alpha.beta.1", "1.0.0-0.3.7"):
        assert str(Version.parse(text)) == text
    assert Version.parse("1.2.3+build.5") == Version(1, 2, 3)  # build metadata has no precedence


@pytest.mark.parametrize("text", ["1.2", "01.2.3", "1.2.3-", "1.2.3-01", "v1.2.3", "1.2.3.4", ""])
def test_invalid_versions(text: str) -> None:
    with pytest.raises(VersionError):
        Version.parse(text)


def test_precedence_from_the_specification() -> None:
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.1.0",
        "2.0.0",
    ]
    versions = [Version.parse(v) for v in ordered]
    assert sorted(reversed(versions)) == versions
    assert all(a < b for a, b in zip(versions, versions[1:]))


_versions = st.builds(
    Version,
    st.integers(0, 5),
    st.integers(0, 5),
    st.integers(0, 5),
    st.lists(st.sampled_from(["rc", "alpha", "1", "2", "11"]), max_size=2).map(tuple),
)


@given(_versions, _versions)
def test_ordering_is_total_and_consistent_with_parsing(a: Version, b: Version) -> None:
    assert (a < b) + (b < a) + (a == b) == 1
    assert Version.parse(str(a)) == a


def test_parse_tag() -> None:
    assert parse_tag("v1.2.3") == Version(1, 2, 3)
    assert parse_tag("v1.3.0-rc.2") == Version(1, 3, 0, ("rc", "2"))
    assert parse_tag("1.2.3") is None and parse_tag("vnext") is None and parse_tag("release-1") is None


@pytest.mark.parametrize(
    ("base", "bump", "expected"),
    [
        (None, Bump.PATCH, "0.0.1"),
        (None, Bump.MINOR, "0.1.0"),
        (None, Bump.MAJOR, "0.1.0"),  # no release yet: initial development
        ("0.4.2", Bump.PATCH, "0.4.3"),
        ("0.4.2", Bump.MINOR, "0.5.0"),
        ("0.4.2", Bump.MAJOR, "0.5.0"),  # below 1.0 a breaking change bumps the minor version
        ("1.4.2", Bump.PATCH, "1.4.3"),
        ("1.4.2", Bump.MINOR, "1.5.0"),
        ("1.4.2", Bump.MAJOR, "2.0.0"),
    ],
)
def test_bumps(base: str | None, bump: Bump, expected: str) -> None:
    assert str(bump_version(Version.parse(base) if base else None, bump)) == expected


def test_nothing_to_bump() -> None:
    with pytest.raises(VersionError):
        bump_version(Version(1, 0, 0), Bump.NONE)


def test_rc_numbering_counts_existing_candidates_of_the_same_version() -> None:
    target = Version(1, 3, 0)
    assert str(next_prerelease(target, "rc", [])) == "1.3.0-rc.1"
    existing = [Version.parse(v) for v in ("1.3.0-rc.1", "1.3.0-rc.2", "1.2.0-rc.9", "1.3.0-beta.5")]
    assert str(next_prerelease(target, "rc", existing)) == "1.3.0-rc.3"
    # A gap is kept, never refilled: rc.4 exists, so the next is rc.5.
    assert str(next_prerelease(target, "rc", [Version.parse("1.3.0-rc.4")])) == "1.3.0-rc.5"
    assert str(next_prerelease(target, "beta", existing)) == "1.3.0-beta.6"
    with pytest.raises(VersionError):
        next_prerelease(target, "RC 1", [])
