"""The release plan: which commits count, reverts settled first, the version, and the changelog text."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from netflix_clone.release.domain.commits import RawCommit
from netflix_clone.release.domain.release import NothingToRelease, plan_release, render_changelog
from netflix_clone.release.domain.versions import Bump, Version, VersionError

_counter = itertools.count(1)


def c(message: str, parents: int = 1) -> RawCommit:
    sha = hashlib.sha1(str(next(_counter)).encode()).hexdigest()  # nosec B324 - a test id
    return RawCommit(sha=sha, message=message, parents=tuple(f"p{i}" for i in range(parents)))


def revert_of(commit: RawCommit, git_style: bool = True) -> RawCommit:
    header = commit.message.split("\n", 1)[0]
    if git_style:
        return c(f'Revert "{header}"\n\nThis reverts commit {commit.sha}.')
    return c(f"revert: {header}\n\nRefs: {commit.sha[:12]}")


def test_feat_and_fix_make_a_minor_release() -> None:
    plan = plan_release([c("fix: a"), c("feat(video): b"), c("chore: c")], Version(1, 2, 3))
    assert plan.bump is Bump.MINOR and str(plan.version) == "1.3.0" and plan.tag == "v1.3.0"
    assert [e.bump for e in plan.entries] == [Bump.PATCH, Bump.MINOR, Bump.NONE]


def test_breaking_change_after_and_before_one_point_oh() -> None:
    commits = [c("fix: a"), c("feat(api)!: b")]
    assert str(plan_release(commits, Version(1, 2, 3)).version) == "2.0.0"
    assert str(plan_release(commits, Version(0, 7, 1)).version) == "0.8.0"
    footer = [c("refactor(contracts): v2\n\nBREAKING CHANGE: v1 readers must migrate")]
    assert plan_release(footer, Version(2, 0, 0)).bump is Bump.MAJOR


def test_first_release() -> None:
    assert str(plan_release([c("feat: a")], None).version) == "0.1.0"
    assert str(plan_release([c("fix: a")], None).version) == "0.0.1"


def test_nothing_releasable() -> None:
    with pytest.raises(NothingToRelease, match="no releasable commits since v1.0.0"):
        plan_release([c("chore: a"), c("docs: b"), c("Update stuff")], Version(1, 0, 0))
    with pytest.raises(NothingToRelease):
        plan_release([], Version(1, 0, 0))


def test_revert_within_the_range_cancels_both() -> None:
    feat = c("feat(video): AV1 rungs")
    commits = [c("fix: a"), feat, revert_of(feat)]
    plan = plan_release(commits, Version(1, 0, 0))
    assert str(plan.version) == "1.0.1"  # the feat is gone, only the fix counts
    assert [(o.sha, r.sha) for o, r in plan.cancelled] == [(feat.sha, commits[2].sha)]
    assert [e.commit.type for e in plan.entries] == ["fix"]


def test_revert_of_a_revert_brings_the_original_back() -> None:
    feat = c("feat(video): AV1 rungs")
    revert = revert_of(feat)
    reapply = c(f'Reapply "feat(video): AV1 rungs"\n\nThis reverts commit {revert.sha}.')
    plan = plan_release([feat, revert, reapply], Version(1, 0, 0))
    assert str(plan.version) == "1.1.0"
    assert [e.sha for e in plan.entries] == [feat.sha]


def test_only_a_revert_of_released_work_is_a_patch() -> None:
    released = "f" * 40  # not in the range: it shipped in an earlier release
    plan = plan_release([c(f'Revert "feat: old"\n\nThis reverts commit {released}.')], Version(1, 4, 0))
    assert plan.bump is Bump.PATCH and str(plan.version) == "1.4.1"


def test_conventional_revert_with_abbreviated_sha() -> None:
    feat = c("feat: a")
    plan = plan_release([c("fix: b"), feat, revert_of(feat, git_style=False)], Version(1, 0, 0))
    assert str(plan.version) == "1.0.1" and len(plan.cancelled) == 1


def test_merge_commits_are_skipped() -> None:
    plan = plan_release(
        [c("feat: a"), c("Merge pull request #3 from x/y\n\nfeat!: not me", parents=2)],
        Version(1, 0, 0),
    )
    assert str(plan.version) == "1.1.0" and len(plan.merges) == 1


def test_pre_release_numbering_and_base() -> None:
    known = [Version(1, 2, 0), Version.parse("1.3.0-rc.1"), Version.parse("1.3.0-rc.2")]
    plan = plan_release([c("feat: a")], Version(1, 2, 0), known, pre="rc")
    assert str(plan.version) == "1.3.0-rc.3"
    # The final release from the same base: rc tags are not the base.
    assert str(plan_release([c("feat: a")], Version(1, 2, 0), known).version) == "1.3.0"


def test_an_ongoing_pre_release_series_continues() -> None:
    known = [Version(1, 2, 0), Version.parse("2.0.0-rc.1")]
    plan = plan_release([c("fix: a")], Version(1, 2, 0), known, pre="rc")
    assert str(plan.version) == "2.0.0-rc.2" and plan.notes


def test_explicit_version() -> None:
    plan = plan_release([c("fix: a")], Version(0, 9, 3), explicit=Version(1, 0, 0))
    assert str(plan.version) == "1.0.0" and plan.explicit
    with pytest.raises(VersionError, match="not above"):
        plan_release([c("fix: a")], Version(1, 0, 0), explicit=Version(1, 0, 0))
    with pytest.raises(VersionError, match="pre-release"):
        plan_release([c("fix: a")], None, explicit=Version.parse("1.0.0-rc.1"))


def test_changelog_groups_by_type_then_scope_with_services() -> None:
    feat_a = c("feat(video-processor): AV1 rungs")
    feat_b = c("feat(analytics-consumer): QoE score")
    feat_c = c("feat: no scope here")
    fix = c("fix(analytics-consumer): late events reopen sessions")
    breaking = c("feat(contracts)!: viewing history v2\n\nBREAKING CHANGE: v1 readers must migrate")
    docs = c("docs: README releases")
    other = c("Tweak the thing")
    services = {
        feat_a.sha: ("video-processor",),
        feat_b.sha: ("analytics-consumer",),
        breaking.sha: ("analytics-consumer", "recommendation-service"),
        docs.sha: (),
    }
    plan = plan_release([feat_a, feat_b, feat_c, fix, breaking, docs, other], Version(1, 1, 0), services=services)
    text = render_changelog(plan, "2025-01-31", ["analytics-consumer", "video-processor"], "from a test")
    assert text.startswith("## v2.0.0 (2025-01-31)\n")
    assert "Images that change: analytics-consumer, video-processor." in text
    sections = [line for line in text.splitlines() if line.startswith("### ")]
    assert sections == [
        "### ⚠ BREAKING CHANGES",
        "### Features",
        "### Bug Fixes",
        "### Documentation",
        "### Not Conventional Commits (listed, not counted towards the version)",
    ]
    features = text.split("### Features")[1].split("### Bug Fixes")[0]
    # Scopes sorted, unscoped last; each commit with the images it touched.
    assert features.index("#### analytics-consumer") < features.index("#### contracts")
    assert features.index("#### contracts") < features.index("#### video-processor")
    assert features.index("#### video-processor") < features.index("#### (no scope)")
    assert f"- QoE score ({feat_b.sha[:7]}) — images: analytics-consumer" in features
    assert "— images: analytics-consumer, recommendation-service" in features
    assert f"- no scope here ({feat_c.sha[:7]})\n" in features  # services unknown: not claimed
    assert f"- **contracts:** v1 readers must migrate ({breaking.sha[:7]})" in text
    assert "README releases" in text and "— images: none" in text
    assert f"- Tweak the thing ({other.sha[:7]})" in text


def test_changelog_lists_what_was_reverted_before_release() -> None:
    feat = c("feat: short-lived")
    plan = plan_release([c("fix: a"), feat, revert_of(feat)], Version(1, 0, 0))
    text = render_changelog(plan, "2025-01-31")
    assert "### Reverted before release" in text and f"feat: short-lived ({feat.sha[:7]})" in text
    assert "### Reverts" not in text
