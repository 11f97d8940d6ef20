"""Conventional Commit parsing: headers, scopes, `!`, footers, breaking notes and both revert spellings."""

from __future__ import annotations

import pytest

from netflix_clone.release.domain.commits import RawCommit, parse_commit, split_message


def _parse(message: str, sha: str = "a" * 40, parents: tuple[str, ...] = ()):
    return parse_commit(RawCommit(sha=sha, message=message, parents=parents))


@pytest.mark.parametrize(
    ("header", "type_", "scope", "bang", "description"),
    [
        ("feat: add HLS ladders", "feat", None, False, "add HLS ladders"),
        (
            "fix(analytics-consumer): drop empty sessions",
            "fix",
            "analytics-consumer",
            False,
            "drop empty sessions",
        ),
        ("feat(api)!: remove /v1/score", "feat", "api", True, "remove /v1/score"),
        ("refactor!: one queue backend", "refactor", None, True, "one queue backend"),
        ("FEAT(Release): upper-case type", "feat", "Release", False, "upper-case type"),
        ("docs(readme): Releases section", "docs", "readme", False, "Releases section"),
    ],
)
def test_headers(header: str, type_: str, scope: str | None, bang: bool, description: str) -> None:
    commit = _parse(header)
    assert commit.conventional
    assert (commit.type, commit.scope, commit.bang, commit.description) == (
        type_,
        scope,
        bang,
        description,
    )
    assert commit.breaking is bang


@pytest.mark.parametrize(
    "header",
    [
        "Add a feature",
        "feat:missing space",
        "feat: ",
        "feat(scope:) broken",
        "README: not a type this repository uses",
        "analytics-consumer: a component is not a type",
        "feat (api): space before scope",
    ],
)
def test_not_conventional(header: str) -> None:
    commit = _parse(header)
    assert not commit.conventional and commit.type is None and commit.description == header.strip()


def test_breaking_change_footer_and_other_footers() -> None:
    commit = _parse(
        "feat(contracts): viewing history v2\n\n"
        "Adds the device class.\n\n"
        "BREAKING CHANGE: readers of v1 rows must migrate;\n"
        "see the README.\n"
        "Refs: #42\n"
        "Signed-off-by: A Person <a@example.com>"
    )
    assert commit.breaking and not commit.bang
    assert commit.breaking_notes == ("readers of v1 rows must migrate;\nsee the README.",)
    assert [f.token for f in commit.footers] == ["BREAKING CHANGE", "Refs", "Signed-off-by"]
    assert commit.body == "Adds the device class."


def test_breaking_change_with_hyphen_and_in_the_body() -> None:
    assert _parse("fix: x\n\nBREAKING-CHANGE: y").breaking_notes == ("y",)
    # A BREAKING CHANGE paragraph followed by more prose is still a breaking note.
    commit = _parse("fix: x\n\nBREAKING CHANGE: the flag is gone\n\nMore words after it.")
    assert commit.breaking and commit.breaking_notes == ("the flag is gone",)


def test_lower_case_breaking_change_is_not_breaking() -> None:
    # The specification: BREAKING CHANGE must be upper case (lint-commits says so; the parser ignores it).
    assert not _parse("fix: x\n\nbreaking change: nope").breaking


def test_bang_without_footer_uses_the_description_as_the_note() -> None:
    assert _parse("feat(api)!: drop XML").breaking_notes == ("drop XML",)


def test_footer_with_hash_separator() -> None:
    commit = _parse("fix: x\n\nCloses #12")
    assert [(f.token, f.value) for f in commit.footers] == [("Closes", "12")]


def test_git_revert_and_reapply() -> None:
    sha = "b" * 40
    revert = _parse(f'Revert "feat(video): AV1 rungs"\n\nThis reverts commit {sha}.')
    assert revert.is_revert and revert.git_revert and revert.reverts == (sha,)
    assert revert.scope == "video" and revert.description == "feat(video): AV1 rungs"
    reapply = _parse(f'Reapply "feat(video): AV1 rungs"\n\nThis reverts commit {"c" * 40}.')
    assert reapply.is_revert and reapply.reverts == ("c" * 40,)


def test_conventional_revert_with_refs_footer() -> None:
    commit = _parse("revert: feat(video): AV1 rungs\n\nRefs: 1234abcd")
    assert commit.is_revert and commit.reverts == ("1234abcd",)
    assert not commit.git_revert


def test_revert_refs_only_count_for_reverts() -> None:
    assert not _parse("fix: x\n\nRefs: 1234abcd").reverts


def test_split_message_handles_crlf_and_blank_runs() -> None:
    header, paragraphs = split_message("feat: x\r\n\r\n\r\nbody one\r\nline two\r\n\r\nFooter: y\r\n")
    assert header == "feat: x" and paragraphs == ["body one\nline two", "Footer: y"]


def test_merge_flag_and_short_sha() -> None:
    raw = RawCommit(sha="0123456789" * 4, message="Merge pull request #1", parents=("a", "b"))
    assert raw.is_merge and raw.short == "0123456"
