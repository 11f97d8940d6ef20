"""Commit-message rules: each failure says what to change."""

from __future__ import annotations

import pytest

from netflix_clone.release.domain.commits import RawCommit
from netflix_clone.release.domain.lint import lint_commit, lint_message


@pytest.mark.parametrize(
    "message",
    [
        "feat: add AV1 rungs",
        "fix(analytics-consumer): reopen late sessions",
        "feat(api)!: drop XML",
        "refactor(contracts): v2\n\nBody text.\n\nBREAKING CHANGE: v1 readers must migrate",
        'Revert "feat: add AV1 rungs"\n\nThis reverts commit 0123456789abcdef0123456789abcdef01234567.',
        "chore(deps): bump numpy\n\nSigned-off-by: A Person <a@example.com>",
    ],
)
def test_valid_messages(message: str) -> None:
    result = lint_message(message, "abc")
    assert result.ok, result.errors


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("Add AV1 rungs", "header is not `type(scope): description`"),
        ("feature: add AV1", "unknown type `feature` (did you mean `feat`?)"),
        ("Feat: add AV1", "type `Feat` must be lower case (`feat`)"),
        ("feat(): add AV1", "empty scope"),
        ("feat(video processor): add", "must not contain spaces"),
        ("feat:add AV1", "exactly one space after the colon"),
        ("feat:  add AV1", "exactly one space after the colon"),
        ("feat: ", "description after the colon is empty"),
        ("feat: add AV1.", "must not end with a period"),
        ("feat: " + "x" * 120, "keep it to 100"),
        ("feat: add AV1\nno blank line", "blank line between the header and the body"),
        ("feat: x\n\nbreaking change: lower case", "write `BREAKING CHANGE:`"),
        ("feat: x\n\nBREAKING CHANGES: plural", "write `BREAKING CHANGE:`"),
        ("feat: x\n\nBREAKING CHANGE: ", "needs a description"),
        ("fixup! feat: add AV1", "git rebase -i --autosquash"),
        ("squash! feat: add AV1", "git rebase -i --autosquash"),
    ],
)
def test_invalid_messages_say_why(message: str, reason: str) -> None:
    result = lint_message(message, "abc")
    assert not result.ok
    assert any(reason in error for error in result.errors), result.errors


def test_scopes_can_be_restricted() -> None:
    result = lint_message("feat(billing): x", scopes={"video-processor", "release"})
    assert not result.ok and "unknown scope `billing`" in result.errors[0]
    assert lint_message("feat(release): x", scopes={"release"}).ok


def test_merge_commits_are_skipped() -> None:
    merge = RawCommit("m" * 40, "Merge branch 'main' into topic", parents=("a", "b"))
    result = lint_commit(merge)
    assert result.ok and result.skipped


def test_several_errors_are_all_reported() -> None:
    result = lint_message("Feature(): Added it.")
    assert len(result.errors) >= 3
