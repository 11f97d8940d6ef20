"""`release` end to end in scratch git repositories: a scripted history with feat, fix, a breaking change,
chores and a revert becomes an annotated tag with its changelog; every refusal has its exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netflix_clone.release.cli import main
from netflix_clone_tests.release.scratch_repo import Repo, fake_pants, git_env, make_repo


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    for key, value in git_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return make_repo(tmp_path)


def _release(
    repo: Repo, capsys: pytest.CaptureFixture[str], *argv: str, pants: Path | None = None
) -> tuple[int, str, str]:
    extra = ["--pants", str(pants)] if pants else ["--no-pants"]
    code = main(["--repo", str(repo.path), *extra, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _history(repo: Repo) -> dict[str, str]:
    """After v0.1.0: feat, fix, breaking, chore, a feat reverted before release, docs."""
    repo.git("tag", "-a", "v0.1.0", "-m", "Release v0.1.0")
    shas = {
        "feat": repo.commit(
            "feat(api): add the ratings endpoint",
            {"src/python/netflix_clone/api/app.py": "R = 1\n"},
        ),
        "fix": repo.commit(
            "fix(worker): retry transient failures\n\nRefs: #12",
            {"src/python/netflix_clone/worker/job.py": "RETRIES = 3\n"},
        ),
        "breaking": repo.commit(
            "feat(platform)!: settings from the environment only\n\n"
            "BREAKING CHANGE: configuration files are no longer read",
            {"src/python/netflix_clone/platform/util.py": "CONFIG = 'env'\n"},
        ),
        "chore": repo.commit("chore: tidy the README", {"README.md": "tidy\n"}),
        "batching": repo.commit(
            "feat(worker): experimental batching",
            {"src/python/netflix_clone/worker/job.py": "BATCH = 10\n"},
        ),
    }
    repo.git("revert", "--no-edit", "HEAD")
    shas["revert"] = repo.git("rev-parse", "HEAD")
    shas["docs"] = repo.commit("docs: explain releases", {"README.md": "releases\n"})
    return shas


def test_scripted_history_becomes_an_annotated_tag(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shas = _history(repo)
    pants, calls = fake_pants(tmp_path)

    code, out, err = _release(repo, capsys, "--dry-run", pants=pants)
    assert code == 0, err
    assert repo.tags() == ["v0.1.0"]  # a dry run changes nothing
    assert "DRY RUN - next version 0.2.0 (v0.2.0): minor bump after v0.1.0" in out
    assert "DRY RUN - would create annotated tag v0.2.0" in out
    assert "images that change: api, worker" in out

    code, out, err = _release(repo, capsys, pants=pants)
    assert code == 0, err
    assert f"created annotated tag v0.2.0 at {shas['docs'][:12]}" in out
    assert repo.git("cat-file", "-t", "v0.2.0") == "tag"  # annotated, not lightweight
    assert repo.git("rev-parse", "v0.2.0^{commit}") == shas["docs"]
    message = repo.git("tag", "--list", "--format=%(contents)", "v0.2.0")
    assert message.startswith("Release v0.2.0\n\n## v0.2.0 (")
    # Markdown headings survive (git's default cleanup would strip them as comments).
    for heading in (
        "### ⚠ BREAKING CHANGES",
        "### Features",
        "### Bug Fixes",
        "### Documentation",
        "### Chores",
    ):
        assert heading in message
    assert f"- **platform:** configuration files are no longer read ({shas['breaking'][:7]})" in message
    assert f"- add the ratings endpoint ({shas['feat'][:7]}) — images: api" in message
    assert f"- retry transient failures ({shas['fix'][:7]}) — images: worker" in message
    assert f"settings from the environment only ({shas['breaking'][:7]}) **BREAKING** — images: api, worker" in message
    assert f"- tidy the README ({shas['chore'][:7]}) — images: none" in message
    assert "### Reverted before release" in message
    assert f"feat(worker): experimental batching ({shas['batching'][:7]}), reverted by {shas['revert'][:7]}" in message
    assert "experimental batching (" not in message.split("### Reverted before release")[0]
    assert (
        "Images that change: api, worker "
        "(`pants --changed-since=v0.1.0 --changed-dependents=transitive`)." in message
    )
    assert "Images per commit: from Pants (the files of each image's `pants filedeps --transitive`)." in message
    assert (
        "--changed-since=v0.1.0 --changed-dependents=transitive --filter-target-type=docker_image list"
        in calls.read_text(encoding="utf-8")
    )

    # Released: a second run has nothing to do.
    code, _, err = _release(repo, capsys, pants=pants)
    assert code == 2 and "HEAD is released already as v0.2.0 (exit 2, nothing-to-release)" in err


def test_after_one_point_oh_a_breaking_change_is_major(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.git("tag", "-a", "v1.4.2", "-m", "Release v1.4.2")
    repo.commit("fix: a")
    repo.commit("feat(api)!: drop XML")
    code, out, _ = _release(repo, capsys, "--dry-run")
    assert code == 0 and "next version 2.0.0 (v2.0.0): major bump after v1.4.2" in out


def test_release_candidates_then_the_release(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.git("tag", "-a", "v1.0.0", "-m", "Release v1.0.0")
    repo.commit("feat(api): one")
    assert _release(repo, capsys, "--pre", "rc")[0] == 0
    code, _, err = _release(repo, capsys, "--pre", "rc")
    assert code == 2 and "HEAD is v1.1.0-rc.1 already" in err
    repo.commit("fix(api): two")
    assert _release(repo, capsys, "--pre", "rc")[0] == 0
    assert sorted(repo.tags()) == ["v1.0.0", "v1.1.0-rc.1", "v1.1.0-rc.2"]
    # The release counts every commit since v1.0.0, not since the last candidate.
    code, out, _ = _release(repo, capsys, "--json")
    report = json.loads(out)
    assert code == 0 and report["tag"] == "v1.1.0" and report["previous_tag"] == "v1.0.0"
    assert [c["header"] for c in report["commits"]] == ["feat(api): one", "fix(api): two"]
    # Promoting a candidate commit is allowed; its rc tag stays.
    assert repo.git("rev-parse", "v1.1.0^{commit}") == repo.git("rev-parse", "v1.1.0-rc.2^{commit}")


def test_refuses_a_dirty_tree(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.commit("feat: a")
    (repo.path / "README.md").write_text("edited\n", encoding="utf-8")
    code, out, err = _release(repo, capsys)
    assert code == 2 and out == ""
    assert "refusing to tag: the working tree has uncommitted changes (M README.md) (exit 2, dirty)" in err
    assert repo.tags() == []
    # The dry run still shows the release, and exits as the real run would.
    code, out, err = _release(repo, capsys, "--dry-run")
    assert code == 2 and "next version 0.1.0" in out and "a real run would refuse" in err


def test_refuses_another_branch_and_a_detached_head(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.commit("feat: a")
    repo.git("checkout", "-q", "-b", "topic")
    code, _, err = _release(repo, capsys)
    assert code == 2 and "HEAD is on branch topic; releases are cut from main (exit 2, wrong-branch)" in err
    assert _release(repo, capsys, "--release-branch", "topic")[0] == 0
    repo.git("checkout", "-q", "--detach", "HEAD")
    code, _, err = _release(repo, capsys, "--dry-run")
    assert code == 2 and "a detached HEAD" in err


def test_refuses_a_range_without_releasable_commits(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.git("tag", "-a", "v0.3.0", "-m", "Release v0.3.0")
    repo.commit("chore: bump tools")
    repo.commit("docs: typo")
    repo.commit("Fix the thing")  # not a Conventional Commit: never guessed
    code, out, err = _release(repo, capsys, "--json")
    assert code == 2 and err.count("\n") == 1
    assert "no releasable commits since v0.3.0: 3 commit(s), 2 conventional" in err
    report = json.loads(out)
    assert report["exit_code"] == 2 and report["outcome"] == "nothing-to-release"


def test_refuses_an_existing_tag(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    # v0.1.0 exists on another branch, so it is not the base of main's release, yet the name is taken.
    repo.git("checkout", "-q", "-b", "other")
    repo.commit("fix: elsewhere")
    repo.git("tag", "-a", "v0.1.0", "-m", "Release v0.1.0")
    repo.git("checkout", "-q", "main")
    repo.commit("feat: here")
    code, _, err = _release(repo, capsys)
    assert code == 2 and "tag v0.1.0 exists already (on another commit) (exit 2, tag-exists)" in err


def test_explicit_version_and_bad_arguments(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.git("tag", "-a", "v0.9.0", "-m", "Release v0.9.0")
    repo.commit("feat: stable")
    code, out, _ = _release(repo, capsys, "--dry-run", "--next-version", "1.0.0")
    assert code == 0 and "next version 1.0.0" in out
    assert _release(repo, capsys, "--next-version", "0.8.0")[0] == 2
    assert _release(repo, capsys, "--next-version", "one")[0] == 2
    code = main(["--repo", str(repo.path.parent), "--no-pants"])
    assert code == 2 and "not a git repository" in capsys.readouterr().err


def test_without_pants_services_come_from_path_prefixes(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.git("tag", "-a", "v0.1.0", "-m", "Release v0.1.0")
    repo.commit("fix(api): x", {"src/python/netflix_clone/api/app.py": "X = 1\n"})
    repo.commit("fix(platform): y", {"src/python/netflix_clone/platform/util.py": "Y = 1\n"})
    code, out, err = _release(repo, capsys, "--dry-run", pants=tmp_path / "no-such-pants")
    assert code == 0
    assert "warning: service images from path prefixes, not Pants" in err and "no-such-pants" in err
    assert "Images per commit: from path prefixes (Pants unavailable:" in out
    assert "x (" in out and "— images: api\n" in out and "— images: api, worker" in out


def test_a_failing_pants_falls_back_and_says_why(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit("feat(api): x", {"src/python/netflix_clone/api/app.py": "X = 1\n"})
    broken = tmp_path / "broken-pants"
    broken.write_text("#!/bin/sh\necho 'Pants 2.17 could not start' >&2\nexit 1\n", encoding="utf-8")
    broken.chmod(0o755)
    code, out, err = _release(repo, capsys, "--dry-run", "--json", pants=broken)
    report = json.loads(out)
    assert code == 0 and report["services_from"] == "path-prefixes" and "not Pants" in err
    assert "exited 1: Pants 2.17 could not start" in report["services_note"]
    # First release: every image is new.
    assert report["images_changed"] == ["api", "worker"]


def test_notes_out_writes_the_changelog(repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo.commit("feat: a")
    notes = tmp_path / "notes.md"
    assert _release(repo, capsys, "--dry-run", "--notes-out", str(notes))[0] == 0
    assert notes.read_text(encoding="utf-8").startswith("## v0.1.0 (")


def test_lint_commits(repo: Repo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    base = repo.git("rev-parse", "HEAD")
    good = repo.commit("feat(api): ratings")
    bad = repo.commit("Added stuff.")
    repo.git("checkout", "-q", "-b", "side", base)
    repo.commit("fix: on the side")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "--no-edit", "side")
    code = main(
        [
            "lint-commits",
            f"{base}..HEAD",
            "--repo",
            str(repo.path),
            "--subject",
            "feat: the PR title",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 1
    assert f"✓ {good[:7]} feat(api): ratings" in out
    assert f"✗ {bad[:7]} Added stuff.: header is not `type(scope): description`" in out
    assert "skipped, merge commit" in out and "✓ title feat: the PR title" in out
    assert "lint-commits: 1 of 4 message(s) fail" in err

    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code = main(["lint-commits", f"{good}..{good}", "--repo", str(repo.path), "--subject", "WIP"])
    out, _ = capsys.readouterr()
    assert code == 1 and "::error title=commit message (PR title)::WIP - header is not" in out

    code = main(["lint-commits", f"{base}..{good}", "--repo", str(repo.path), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["ok"] and report["results"][0]["sha"] == good

    assert main(["lint-commits", "nope..HEAD", "--repo", str(repo.path)]) == 2
    assert "bad range" in capsys.readouterr().err
