"""Validates every GitHub workflow: it parses, has the triggers and jobs it must, and every script,
Pants goal and linter it calls exists in this repository."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

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


def test_tests_workflow_triggers_matrix_services_and_jobs() -> None:
    workflow = _load(Path(".github/workflows/tests.yml"))
    triggers = _triggers(workflow)
    assert triggers["push"]["branches"] == ["main", "develop"]
    assert triggers["pull_request"]["branches"] == ["main", "develop"]
    jobs = workflow["jobs"]
    assert set(jobs) >= {"test", "lint", "security"}
    test_job = jobs["test"]
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


def test_performance_workflow_schedule_dispatch_and_steps() -> None:
    workflow = _load(Path(".github/workflows/performance.yml"))
    triggers = _triggers(workflow)
    assert triggers["push"]["branches"] == ["main"] and triggers["pull_request"]["branches"] == [
        "main"
    ]
    assert triggers["schedule"] == [{"cron": "0 0 * * 0"}]
    assert "workflow_dispatch" in triggers
    runs = " ".join(_run_commands(workflow))
    for command in (
        "perf.pex run",
        "perf.pex check",
        "perf.pex compare",
        "perf.pex plot",
        "perf.pex ab",
        "perf.pex revision",
        "run --only instructions",
        "GITHUB_STEP_SUMMARY",
    ):
        assert command in runs
    assert "git push -f origin HEAD:perf-history" in runs
    assert "apt-get install -yq valgrind" in runs
    # Targets are checked last, so a missed target still stores the history and shows the gate.
    steps = workflow["jobs"]["benchmarks"]["steps"]
    assert "perf.pex check" in steps[-1]["run"] and "always()" in steps[-1]["if"]


def test_deploy_workflow_packages_once_then_staging_then_production() -> None:
    workflow = _load(Path(".github/workflows/deploy.yml"))
    triggers = _triggers(workflow)
    assert triggers["push"]["tags"] == ["v*"]
    inputs = triggers["workflow_dispatch"]["inputs"]
    assert inputs["environment"]["type"] == "choice" and inputs["environment"]["options"] == [
        "staging",
        "production",
    ]
    assert set(inputs["strategy"]["options"]) == {"canary", "linear", "all-at-once"}
    assert set(inputs["action"]["options"]) == {"deploy", "rollback", "resume", "break-lock"}
    jobs = workflow["jobs"]
    assert jobs["staging"]["needs"] == "package" and jobs["production"]["needs"] == [
        "package",
        "staging",
    ]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    packaging = [c for c in _run_commands(workflow) if "./pants" in c]
    assert packaging == ["./pants package src/python/netflix_clone/deploy:deploy"]  # packaged once
    assert 'name="deploy"' in Path("src/python/netflix_clone/deploy/BUILD").read_text(
        encoding="utf-8"
    )
    upload = next(
        s
        for s in jobs["package"]["steps"]
        if s.get("uses", "").startswith("actions/upload-artifact")
    )
    assert upload["with"]["path"] == "dist/src.python.netflix_clone.deploy/deploy.pex"
    for cluster in ("netflix-clone-staging", "netflix-clone-production"):
        assert cluster in Path(".github/workflows/deploy.yml").read_text(encoding="utf-8")
    runs = {name: " ".join(s.get("run", "") for s in job["steps"]) for name, job in jobs.items()}
    assert "deploy.pex staging" in runs["staging"]
    assert "deploy.pex production --dry-run" in runs["production"]
    assert "deploy.pex rollback" in runs["operate"] and "--resume" in runs["operate"]
    assert "deploy.pex break-lock" in runs["operate"]
    # A failing service's staging deploy must not cancel the others half-way.
    assert jobs["staging"]["strategy"]["fail-fast"] is False
    assert jobs["production"]["strategy"]["max-parallel"] == 1


def test_deploy_workflow_wiring_is_per_service_and_safe() -> None:
    """Issue 14, cases 4 and 6 and the workflow hardening: per-service listeners and target groups,
    AWS_DEFAULT_REGION set, OIDC first, and no free text pasted into a script."""
    workflow = _load(Path(".github/workflows/deploy.yml"))
    text = Path(".github/workflows/deploy.yml").read_text(encoding="utf-8")
    assert workflow["env"]["AWS_DEFAULT_REGION"] == workflow["env"]["AWS_REGION"]
    for name in (
        "LB_LISTENER_ARN",
        "LB_RULE_ARN",
        "BLUE_TARGET_GROUP_ARN",
        "GREEN_TARGET_GROUP_ARN",
    ):
        assert f"secrets.{name}" not in text, f"{name} must be per service"
        assert f"secrets[format('{{0}}_{name}', steps.svc.outputs.key)]" in text
    assert "secrets[format('{0}_STAGING_TARGET_GROUP_ARN', steps.svc.outputs.key)]" in text
    assert workflow["permissions"]["id-token"] == "write"
    for name, job in workflow["jobs"].items():
        if name == "package":
            continue
        creds = [
            s
            for s in job["steps"]
            if s.get("uses", "").startswith("aws-actions/configure-aws-credentials")
        ]
        assert [s["if"] for s in creds] == [
            "vars.AWS_DEPLOY_ROLE_ARN != ''",
            "vars.AWS_DEPLOY_ROLE_ARN == ''",
        ], name
        assert "role-to-assume" in creds[0]["with"] and "aws-access-key-id" in creds[1]["with"]
    untrusted = re.compile(
        r"\$\{\{\s*(inputs\.|matrix\.|github\.actor|github\.ref|needs\.|secrets)"
    )
    for name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            assert not untrusted.search(
                step.get("run", "")
            ), f"{name}: expression inside run: {step.get('name')}"


def test_docker_workflow_builds_affected_images_scans_and_pushes() -> None:
    workflow = _load(Path(".github/workflows/docker.yml"))
    triggers = _triggers(workflow)
    assert triggers["push"]["branches"] == ["main"] and triggers["push"]["tags"] == ["v*"]
    assert triggers["pull_request"]["branches"] == ["main"]
    jobs = workflow["jobs"]
    assert set(jobs) == {"images", "secrets", "push", "manifest"}
    runs = " ".join(_run_commands(workflow))
    assert "--changed-dependents=transitive --filter-target-type=docker_image package" in runs
    assert "./pants lint --only=hadolint docker::" in runs
    assert "docker compose -f docker/docker-compose.yml config" in runs
    assert "build-support/smoke_images.py" in runs
    uses = [s.get("uses", "") for job in jobs.values() for s in job["steps"]]
    assert any(u.startswith("aquasecurity/trivy-action") for u in uses)
    assert any(u.startswith("trufflesecurity/trufflehog") for u in uses)
    push = jobs["push"]
    assert set(push["strategy"]["matrix"]["arch"]) == {"amd64", "arm64"}
    assert set(push["strategy"]["matrix"]["service"]) == {
        "analytics-consumer",
        "recommendation-service",
        "video-processor",
    }
    build = next(
        s for s in push["steps"] if s.get("uses", "").startswith("docker/build-push-action")
    )
    assert "ghcr.io" in workflow["env"]["REGISTRY"] and "cache-from" in build["with"]
    manifest = " ".join(_run_commands({"jobs": {"m": jobs["manifest"]}}))
    assert "imagetools create" in manifest and ":latest" in manifest
