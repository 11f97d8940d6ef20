"""Validates every GitHub workflow: it parses, has the triggers and jobs it must, and every script,
Pants goal and linter it calls exists in this repository."""

from __future__ import annotations

import fnmatch
import re
import shlex
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml

from netflix_clone.release.domain.versions import Version

WORKFLOWS = sorted(Path(".github/workflows").glob("*.yml"))
PANTS_GOALS = {
    "test",
    "lint",
    "check",
    "package",
    "run",
    "tailor",
    "update-build-files",
    "fmt",
    "publish",
    "dependencies",
    "list",
}
LINTERS = {"flake8", "black", "pylint", "bandit", "hadolint", "mypy"}
REPO_PATH = re.compile(
    r"^(\./)?(\.ci|build-support|benchmarks|docker|3rdparty|src|tests)/[\w./-]+$"
)


def _load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path} is not a YAML mapping"
    return data


def _triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as boolean True.
    triggers = workflow.get("on", workflow.get(True))
    assert isinstance(triggers, dict), "workflow has no `on:` mapping"
    return triggers


def _run_commands(workflow: dict[Any, Any]) -> list[str]:
    commands = []
    for job in workflow["jobs"].values():
        for step in job.get("steps", []):
            if "run" in step:
                commands.append(step["run"])
    return commands


def test_there_are_workflows() -> None:
    assert {p.name for p in WORKFLOWS} >= {"tests.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_job_has_a_runner_and_steps(path: Path) -> None:
    workflow = _load(path)
    assert workflow.get("jobs"), f"{path.name} defines no jobs"
    for name, job in workflow["jobs"].items():
        assert "runs-on" in job, f"{path.name}: job {name} has no runs-on"
        assert job.get("steps"), f"{path.name}: job {name} has no steps"
        for step in job["steps"]:
            assert ("run" in step) != (
                "uses" in step
            ), f"{path.name}: step {step} needs one of run/uses"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_called_scripts_goals_and_linters_exist(path: Path) -> None:
    for command in _run_commands(_load(path)):
        # GitHub expressions are not shell; replace them with a placeholder word.
        text = re.sub(r"\$\{\{[^}]*\}\}", "X", command)
        for line in text.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            for word in words:
                if REPO_PATH.match(word):
                    assert Path(word).exists(), f"{path.name} calls {word}, which does not exist"
            if words[:1] == ["./pants"]:
                assert Path("pants").exists()
                goals = [
                    w for w in words[1:] if not w.startswith("-") and ":" not in w and "/" not in w
                ]
                assert goals or "--version" in words, f"{path.name}: `{line}` names no Pants goal"
                unknown = set(goals) - PANTS_GOALS
                assert not unknown, f"{path.name}: unknown Pants goal(s) {unknown} in `{line}`"
                for word in words:
                    if word.startswith("--only="):
                        assert (
                            word.split("=", 1)[1] in LINTERS
                        ), f"{path.name}: unknown linter {word}"


# The trigger matrix the platform promises (issue 17), one row per workflow:
# (push branches, pull-request branches, `v*` tags, schedule, manual dispatch).
TRIGGER_MATRIX: dict[str, tuple[Optional[list[str]], Optional[list[str]], bool, bool, bool]] = {
    "tests.yml": (["main", "develop"], ["main", "develop"], True, False, False),
    "performance.yml": (["main"], ["main"], False, True, True),
    "docker.yml": (["main"], ["main"], True, False, False),
    "deploy.yml": (None, None, True, False, True),
    # Manual releases; pushes to main preview the next one (they tag only with AUTO_RELEASE).
    "release.yml": (["main"], None, False, False, True),
}


def _trigger_row(
    workflow: dict[Any, Any]
) -> tuple[Optional[list[str]], Optional[list[str]], bool, bool, bool]:
    triggers = _triggers(workflow)
    push = triggers.get("push") or {}
    pull_request = triggers.get("pull_request")
    return (
        push.get("branches"),
        (pull_request or {}).get("branches") if "pull_request" in triggers else None,
        "v*" in push.get("tags", []),
        bool(triggers.get("schedule")),
        "workflow_dispatch" in triggers,
    )


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_trigger_matrix(path: Path) -> None:
    assert path.name in TRIGGER_MATRIX, f"{path.name} needs a row in the trigger matrix"
    assert _trigger_row(_load(path)) == TRIGGER_MATRIX[path.name]


def test_every_matrix_row_has_a_workflow() -> None:
    assert set(TRIGGER_MATRIX) == {p.name for p in WORKFLOWS}


def test_a_release_tag_starts_tests_images_and_deploy() -> None:
    tag = Version(1, 2, 3).tag  # the release pex names tags like this
    for name in ("tests.yml", "docker.yml", "deploy.yml"):
        tags = _triggers(_load(Path(f".github/workflows/{name}")))["push"]["tags"]
        assert any(fnmatch.fnmatch(tag, pattern) for pattern in tags), name
        assert any(fnmatch.fnmatch(f"{tag}-rc.1", pattern) for pattern in tags), name


def test_tests_workflow_triggers_matrix_services_and_jobs() -> None:
    workflow = _load(Path(".github/workflows/tests.yml"))
    triggers = _triggers(workflow)
    assert triggers["push"]["branches"] == ["main", "develop"] and triggers["push"]["tags"] == [
        "v*"
    ]
    assert triggers["pull_request"]["branches"] == ["main", "develop"]
    jobs = workflow["jobs"]
    assert set(jobs) >= {"test", "lint", "security", "commits"}
    test_job = jobs["test"]
    # 3.9 left at end of life; 3.12 cannot be built by this toolchain (README "Tests" says why).
    assert test_job["strategy"]["matrix"]["python"] == ["3.10", "3.11"]
    assert set(test_job["services"]) == {"postgres", "redis", "cassandra"}
    assert test_job["env"]["CASSANDRA_HOSTS"]
    runs = " ".join(_run_commands(workflow))
    assert "--changed-since=origin/" in runs and "--changed-dependents=transitive" in runs
    assert "--use-coverage" in runs
    assert "pip-audit" in runs and "--only=bandit" in runs
    lint_runs = " ".join(s.get("run", "") for s in jobs["lint"]["steps"])
    for linter in ("flake8", "black", "pylint"):
        assert f"--only={linter}" in lint_runs
    assert " check" in lint_runs
    cache_keys = [
        s["with"]["key"]
        for j in jobs.values()
        for s in j["steps"]
        if s.get("uses", "").startswith("actions/cache")
    ]
    assert cache_keys and all("hashFiles('3rdparty/python/*.lock'" in k for k in cache_keys)


def test_pull_requests_lint_their_commit_messages() -> None:
    job = _load(Path(".github/workflows/tests.yml"))["jobs"]["commits"]
    assert job["if"] == "github.event_name == 'pull_request'"
    assert job["steps"][0]["with"]["fetch-depth"] == 0
    runs = " ".join(s.get("run", "") for s in job["steps"])
    assert "./pants package src/python/netflix_clone/release:release" in runs
    assert 'release.pex lint-commits "$BASE_SHA..$HEAD_SHA" --subject "$PR_TITLE"' in runs
    lint = next(s for s in job["steps"] if "lint-commits" in s.get("run", ""))
    # Untrusted text (the title) reaches the shell only through the environment.
    assert lint["env"]["PR_TITLE"] == "${{ github.event.pull_request.title }}"
    assert "${{" not in lint["run"]


def test_release_workflow_tags_with_a_token_that_starts_the_other_workflows() -> None:
    workflow = _load(Path(".github/workflows/release.yml"))
    inputs = _triggers(workflow)["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"pre", "next_version", "dry_run"}
    assert workflow["concurrency"]["cancel-in-progress"] is False
    steps = workflow["jobs"]["release"]["steps"]
    assert steps[0]["with"]["fetch-depth"] == 0
    assert "secrets.RELEASE_TOKEN" in steps[0]["with"]["token"]
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "./pants package src/python/netflix_clone/release:release" in runs
    assert "release.pex" in runs and "--dry-run" in runs and '--pre "$PRE"' in runs
    assert 'git push origin "refs/tags/$TAG"' in runs
    assert "gh release create" in runs and "--verify-tag" in runs
    # Outputs outside the checkout: an untracked file makes the release refuse a dirty tree.
    assert '> "$RUNNER_TEMP/release.json"' in runs
    mode = next(s for s in steps if s.get("id") == "mode")
    assert "RELEASE_TOKEN" in mode["env"] and "exit 1" in mode["run"]
    push = next(s for s in steps if "git push" in s.get("run", ""))
    assert push["if"] == "steps.mode.outputs.tag == 'true'"
