"""repo-settings against a local fake of GitHub's branch-protection endpoints: dry run, apply, no-op,
errors, and the token kept out of every output."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netflix_clone.release.repo_settings import main
from netflix_clone_tests.release.github_fake import FakeGitHub, fake_github

PROTECTION_FILE = Path(".github/branch-protection/main.json")


@pytest.fixture()
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    with fake_github() as fake:
        fake.add_branch("acme", "netflix-clone", "main", None)  # exists, not protected
        fake.recent_apps = {"lint": 15368}
        monkeypatch.setenv("GITHUB_TOKEN", fake.token)
        monkeypatch.setenv("GITHUB_REPOSITORY", "acme/netflix-clone")
        monkeypatch.delenv("GH_TOKEN", raising=False)
        monkeypatch.delenv("GITHUB_API_URL", raising=False)
        yield fake


def _run(fake: FakeGitHub, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([argv[0], "--api-url", fake.url, *argv[1:]])
    out, err = capsys.readouterr()
    return code, out, err


def test_dry_run_shows_the_diff_and_changes_nothing(github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(github, capsys, "apply", "--dry-run")
    assert code == 0
    assert "acme/netflix-clone main:" in out and "change(s) from .github/branch-protection/main.json" in out
    assert "+ protection: enable (the branch is not protected today)" in out
    assert '+ required_status_checks.checks: "commit messages" (app_id 15368)' in out
    assert "+ required_pull_request_reviews.required_approving_review_count: 1" in out
    assert "~ allow_force_pushes" not in out  # already false on an unprotected branch
    assert "DRY RUN - nothing was applied" in out
    assert github.count("PUT") == 0 and github.repos[("acme", "netflix-clone")]["main"] is None


def test_apply_then_a_second_apply_is_a_no_op(github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(github, capsys, "apply")
    assert code == 0 and "applied; acme/netflix-clone main now matches" in out
    assert github.count("PUT") == 1
    put = next(c for c in github.calls if c.method == "PUT")
    assert put.body == json.loads(PROTECTION_FILE.read_text(encoding="utf-8"))  # the file is the body
    assert put.headers["Accept"] == "application/vnd.github+json"
    assert put.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert put.path == "/repos/acme/netflix-clone/branches/main/protection"

    code, out, _ = _run(github, capsys, "apply")
    assert code == 0 and "protection matches" in out and "nothing to apply" in out
    assert github.count("PUT") == 1  # compared, not written

    code, out, _ = _run(github, capsys, "apply", "--dry-run", "--json")
    report = json.loads(out)
    assert code == 0 and report["in_sync"] is True and report["changes"] == []


def test_drift_is_reported_and_repaired(github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(github, capsys, "apply")[0] == 0
    stored = github.repos[("acme", "netflix-clone")]["main"]
    assert stored is not None
    stored["allow_force_pushes"] = True  # someone clicked in the settings page
    stored["required_status_checks"]["checks"].pop()
    code, out, _ = _run(github, capsys, "diff")
    assert code == 1
    assert "~ allow_force_pushes: true -> false" in out
    assert '+ required_status_checks.checks: "benchmarks"' in out
    assert _run(github, capsys, "apply")[0] == 0 and github.count("PUT") == 2
    assert _run(github, capsys, "diff")[0] == 0


def test_the_token_is_never_printed(
    github: FakeGitHub,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    outputs = []
    for argv in (("apply", "--dry-run"), ("apply",), ("show",), ("apply", "--json")):
        outputs.append(_run(github, capsys, *argv))
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_wrong-token-that-must-not-leak")
    code, out, err = _run(github, capsys, "apply")
    assert code == 1 and "401 Bad credentials" in err and "invalid or expired" in err
    outputs.append((code, out, err))
    text = "\n".join(o + e for _, o, e in outputs) + caplog.text
    assert github.token not in text and "ghp_wrong-token-that-must-not-leak" not in text
    assert github.calls[-1].headers["Authorization"] == "Bearer ghp_wrong-token-that-must-not-leak"


def test_a_token_without_administration_rights(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", github.read_only_token)
    code, _, err = _run(github, capsys, "apply")
    assert code == 1 and "403 Resource not accessible by integration" in err and "Administration" in err


def test_missing_branch_repository_and_token(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = _run(github, capsys, "apply", "--branch", "nope")
    assert code == 1 and "404 Branch not found" in err
    code, _, err = _run(github, capsys, "apply", "--repo", "acme/other")
    assert code == 1 and "404 Not Found" in err
    monkeypatch.delenv("GITHUB_TOKEN")
    code, _, err = _run(github, capsys, "apply")
    assert code == 2 and "GITHUB_TOKEN is not set" in err
    monkeypatch.setenv("GITHUB_TOKEN", github.token)
    monkeypatch.delenv("GITHUB_REPOSITORY")
    code, _, err = _run(github, capsys, "apply")
    assert code == 2 and "--repo OWNER/NAME" in err


def test_the_token_goes_only_over_https_or_loopback(github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["apply", "--api-url", "http://example.com"])
    assert code == 2 and "only over https" in capsys.readouterr().err
    assert github.calls == []


def test_server_errors_are_retried(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("netflix_clone.release.adapters.github.time.sleep", lambda _s: None)
    github.fail_next = [502, 503]
    code, out, _ = _run(github, capsys, "apply", "--dry-run")
    assert code == 0 and "+ protection: enable" in out and github.count("GET") == 3


def test_a_bad_file_is_a_usage_error(github: FakeGitHub, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "main.json"
    bad.write_text(json.dumps({"required_status_checks": None}), encoding="utf-8")
    code, _, err = _run(github, capsys, "apply", "--file", str(bad))
    assert code == 2 and "missing required key(s) enforce_admins" in err
    assert github.calls == []


def test_what_github_did_not_store_is_an_error(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A personal repository ignores push restrictions: the tool says so instead of claiming success.
    body = json.loads(PROTECTION_FILE.read_text(encoding="utf-8"))
    body["restrictions"] = {"users": ["octocat"], "teams": [], "apps": []}
    path = tmp_path / "main.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    original = github.handle

    def drop_restrictions(method: str, p: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        if method == "PUT":
            sent = json.loads(raw)
            sent["restrictions"] = None
            raw = json.dumps(sent).encode()
        return original(method, p, headers, raw)

    github.handle = drop_restrictions  # type: ignore[method-assign,assignment]
    code, _, err = _run(github, capsys, "apply", "--file", str(path))
    assert code == 1 and "GitHub stored something other than the file says" in err
    assert "+ restrictions: enable" in err


def test_show_prints_the_normalised_protection(github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    _run(github, capsys, "apply")
    code, out, _ = _run(github, capsys, "show")
    shown = json.loads(out)["protection"]
    assert code == 0 and shown["allow_force_pushes"] is False and shown["enforce_admins"] is True
    assert shown["required_status_checks"]["checks"]["lint"] == 15368


def test_verify_checks_on_this_repository(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify-checks"]) == 0
    out = capsys.readouterr().out
    assert "✓ test (Python 3.11) <- tests.yml:test" in out and "✓ commit messages <- tests.yml:commits" in out


def test_verify_checks_names_a_check_no_job_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = json.loads(PROTECTION_FILE.read_text(encoding="utf-8"))
    body["required_status_checks"]["checks"].append({"context": "test (Python 3.9)", "app_id": 15368})
    path = tmp_path / "main.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    assert main(["verify-checks", "--file", str(path)]) == 1
    captured = capsys.readouterr()
    assert "✗ test (Python 3.9)" in captured.out
    assert "required check 'test (Python 3.9)' is not a job that runs on pull requests into main" in captured.err
