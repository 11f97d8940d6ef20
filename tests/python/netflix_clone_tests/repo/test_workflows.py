"""Validates every GitHub workflow: it parses, has the triggers and jobs it must, and every script,
Pants goal and linter it calls exists in this repository."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml

from netflix_clone.release.domain.versions import Version
from netflix_clone.release.domain.workflows import pull_request_checks, verify_required_checks

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
    "dependents",
    "list",
}
SHELL_OPERATORS = {"|", "||", "&&", ";", ">", ">>", "<", "2>", "2>&1"}
LINTERS = {"flake8", "black", "pylint", "bandit", "hadolint", "mypy"}
REPO_PATH = re.compile(r"^(\./)?(\.ci|build-support|benchmarks|docker|3rdparty|src|tests)/[\w./-]+$")


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
            assert ("run" in step) != ("uses" in step), f"{path.name}: step {step} needs one of run/uses"


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
                # The Pants command ends where the shell's pipes and redirections begin.
                ends = [i for i, w in enumerate(words) if w in SHELL_OPERATORS]
                words = words[: ends[0]] if ends else words
                goals = [w for w in words[1:] if not w.startswith(("-", "$")) and ":" not in w and "/" not in w]
                assert goals or "--version" in words, f"{path.name}: `{line}` names no Pants goal"
                unknown = set(goals) - PANTS_GOALS
                assert not unknown, f"{path.name}: unknown Pants goal(s) {unknown} in `{line}`"
                for word in words:
                    if word.startswith("--only="):
                        assert word.split("=", 1)[1] in LINTERS, f"{path.name}: unknown linter {word}"


# The trigger matrix the platform promises (issue 17), one row per workflow:
# (push branches, pull-request branches, `v*` tags, schedule, manual dispatch).
TRIGGER_MATRIX: dict[str, tuple[Optional[list[str]], Optional[list[str]], bool, bool, bool]] = {
    "tests.yml": (["main", "develop"], ["main", "develop"], True, False, False),
    "performance.yml": (["main"], ["main"], False, True, True),
    "docker.yml": (["main"], ["main"], True, False, False),
    "deploy.yml": (None, None, True, False, True),
    # Manual releases; pushes to main preview the next one (they tag only with AUTO_RELEASE).
    "release.yml": (["main"], None, False, False, True),
    # Path-filtered: protection and workflow changes; weekly drift check.
    "repo-settings.yml": (["main"], ["main"], False, True, True),
}


def _trigger_row(workflow: dict[Any, Any]) -> tuple[Optional[list[str]], Optional[list[str]], bool, bool, bool]:
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
    assert triggers["push"]["branches"] == ["main", "develop"] and triggers["push"]["tags"] == ["v*"]
    assert triggers["pull_request"]["branches"] == ["main", "develop"]
    jobs = workflow["jobs"]
    assert set(jobs) >= {"test", "lint", "security", "commits"}
    test_job = jobs["test"]
    # 3.9 left at end of life; 3.12 cannot be built by this toolchain (README "Tests" says why).
    assert test_job["strategy"]["matrix"]["python"] == ["3.10", "3.11"]
    assert set(test_job["services"]) == {"postgres", "redis", "cassandra"}
    assert test_job["env"]["NFC_CASSANDRA_HOSTS"]
    runs = " ".join(_run_commands(workflow))
    assert "--changed-since=origin/" in runs and "--changed-dependents=transitive" in runs
    assert "--use-coverage" in runs
    assert "pip-audit" in runs and "--only=bandit" in runs
    lint_runs = " ".join(s.get("run", "") for s in jobs["lint"]["steps"])
    for linter in ("flake8", "black", "pylint"):
        assert f"--only={linter}" in lint_runs
    assert " check" in lint_runs
    cache_keys = [
        s["with"]["key"] for j in jobs.values() for s in j["steps"] if s.get("uses", "").startswith("actions/cache")
    ]
    assert cache_keys and all("hashFiles('3rdparty/python/*.lock'" in k for k in cache_keys)


def test_tests_workflow_coverage_floor_and_codecov() -> None:
    workflow = _load(Path(".github/workflows/tests.yml"))
    floor = float(workflow["env"]["COVERAGE_FLOOR"])
    assert 80 <= floor <= 100
    steps = workflow["jobs"]["test"]["steps"]
    full = next(s for s in steps if s.get("name", "").startswith("Test (everything"))
    assert full["if"] == "github.event_name != 'pull_request'"  # pushes and tags: the whole suite
    assert '--coverage-py-fail-under="$COVERAGE_FLOOR"' in full["run"]
    assert "--use-coverage --coverage-py-filter=\"['netflix_clone']\"" in full["run"]
    assert full["run"].rstrip().endswith("::")
    check = next(s for s in steps if s.get("id") == "codecov")
    assert check["env"]["CODECOV_TOKEN"] == "${{ secrets.CODECOV_TOKEN }}"
    assert "::notice" in check["run"]  # skipped with a notice when the secret is absent
    upload = next(s for s in steps if s.get("uses", "").startswith("codecov/codecov-action"))
    assert upload["if"] == "always() && steps.codecov.outputs.upload == 'true'"
    assert upload["with"]["files"] == "dist/coverage/python/coverage.xml"
    assert upload["with"]["token"] == "${{ secrets.CODECOV_TOKEN }}"


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
    # A preview with nothing to release is not a failure: refusals exit 2 and name themselves in "outcome".
    assert '[ "$code" = 2 ] && [ "$outcome" = nothing-to-release ]' in runs and "jq -r '.outcome" in runs
    mode = next(s for s in steps if s.get("id") == "mode")
    assert "RELEASE_TOKEN" in mode["env"] and "exit 1" in mode["run"]
    push = next(s for s in steps if "git push" in s.get("run", ""))
    assert push["if"] == "steps.mode.outputs.tag == 'true'"


PROTECTION = Path(".github/branch-protection/main.json")
# Jobs that run on pull requests into main without being required, each with the reason.
NOT_REQUIRED = {
    "protection": "repo-settings.yml is path-filtered: it runs only when protection or workflows change",
}


def _workflows() -> dict[str, dict[Any, Any]]:
    return {p.name: _load(p) for p in WORKFLOWS}


def test_required_checks_are_real_jobs_that_run_on_pull_requests() -> None:
    body = json.loads(PROTECTION.read_text(encoding="utf-8"))
    required = [check["context"] for check in body["required_status_checks"]["checks"]]
    assert not verify_required_checks(required, _workflows(), "main")


def test_every_pull_request_job_is_required_or_named_as_optional() -> None:
    body = json.loads(PROTECTION.read_text(encoding="utf-8"))
    required = {check["context"] for check in body["required_status_checks"]["checks"]}
    found, dynamic = pull_request_checks(_workflows(), "main")
    running = {name for name, sources in found.items() if any(s.runs is not False for s in sources)}
    assert running - required == set(NOT_REQUIRED), "a new pull-request job: require it or say why not"
    assert not dynamic or all("deploy.yml" in d for d in dynamic)


def test_branch_protection_policy() -> None:
    body = json.loads(PROTECTION.read_text(encoding="utf-8"))
    checks = body["required_status_checks"]
    assert checks["strict"] is True  # up to date with main before merging
    assert all(c.get("app_id") == 15368 for c in checks["checks"])  # reported by GitHub Actions
    reviews = body["required_pull_request_reviews"]
    assert reviews["required_approving_review_count"] >= 1 and reviews["dismiss_stale_reviews"]
    assert body["required_conversation_resolution"] is True
    assert body["allow_force_pushes"] is False and body["allow_deletions"] is False
    assert body["enforce_admins"] is True


def test_performance_workflow_schedule_dispatch_and_steps() -> None:
    workflow = _load(Path(".github/workflows/performance.yml"))
    triggers = _triggers(workflow)
    assert triggers["push"]["branches"] == ["main"] and triggers["pull_request"]["branches"] == ["main"]
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
    assert 'name="deploy"' in Path("src/python/netflix_clone/deploy/BUILD").read_text(encoding="utf-8")
    upload = next(s for s in jobs["package"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact"))
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
        creds = [s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials")]
        assert [s["if"] for s in creds] == [
            "vars.AWS_DEPLOY_ROLE_ARN != ''",
            "vars.AWS_DEPLOY_ROLE_ARN == ''",
        ], name
        assert "role-to-assume" in creds[0]["with"] and "aws-access-key-id" in creds[1]["with"]
    untrusted = re.compile(r"\$\{\{\s*(inputs\.|matrix\.|github\.actor|github\.ref|needs\.|secrets)")
    for name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            assert not untrusted.search(step.get("run", "")), f"{name}: expression inside run: {step.get('name')}"


def test_docker_workflow_builds_affected_images_scans_and_pushes() -> None:
    workflow = _load(Path(".github/workflows/docker.yml"))
    triggers = _triggers(workflow)
    assert triggers["push"]["branches"] == ["main"] and triggers["push"]["tags"] == ["v*"]
    assert triggers["pull_request"]["branches"] == ["main"]
    jobs = workflow["jobs"]
    assert set(jobs) == {"images", "scan", "secrets", "push", "manifest"}
    runs = " ".join(_run_commands(workflow))
    assert "--changed-dependents=transitive --filter-target-type=docker_image package" in runs
    assert "./pants lint --only=hadolint docker::" in runs
    assert "docker compose -f docker/docker-compose.yml config" in runs
    assert "build-support/smoke_images.py" in runs
    assert "build-support/compose_flow.py" in runs
    assert "./pants lint --only=hadolint docker:: build-support/offline-images::" in runs
    uses = [s.get("uses", "") for job in jobs.values() for s in job["steps"]]
    assert any(u.startswith("aquasecurity/trivy-action") for u in uses)
    # Trivy scans every image, one matrix job each, from the tarballs the images job saved.
    scan = jobs["scan"]
    assert set(scan["strategy"]["matrix"]["service"]) == {
        "analytics-consumer",
        "recommendation-service",
        "video-processor",
    }
    trivy = next(s for s in scan["steps"] if s.get("uses", "").startswith("aquasecurity/trivy-action"))
    assert trivy["with"]["input"] == "images/${{ matrix.service }}.tar"
    assert "scan" in jobs["push"]["needs"]
    assert any(u.startswith("trufflesecurity/trufflehog") for u in uses)
    push = jobs["push"]
    assert set(push["strategy"]["matrix"]["arch"]) == {"amd64", "arm64"}
    assert set(push["strategy"]["matrix"]["service"]) == {
        "analytics-consumer",
        "recommendation-service",
        "video-processor",
    }
    build = next(s for s in push["steps"] if s.get("uses", "").startswith("docker/build-push-action"))
    assert "ghcr.io" in workflow["env"]["REGISTRY"] and "cache-from" in build["with"]
    manifest = " ".join(_run_commands({"jobs": {"m": jobs["manifest"]}}))
    assert "imagetools create" in manifest and ":latest" in manifest


SELECTION = Path(".github/changed-only/selection.json")


def test_changed_only_pull_requests_run_file_level_tests_and_lint_changed_files() -> None:
    jobs = _load(Path(".github/workflows/tests.yml"))["jobs"]
    pr_test = next(s for s in jobs["test"]["steps"] if s.get("if") == "github.event_name == 'pull_request'")
    assert "--changed-dependents=transitive" in pr_test["run"]
    assert "--filter-target-type=python_test test" in pr_test["run"]
    lint = next(s for s in jobs["lint"]["steps"] if s.get("name", "").startswith("Lint (changed files"))
    assert 'spec="--changed-since=origin/$BASE_REF"' in lint["run"]
    assert "--changed-dependents" not in lint["run"]  # linters see the changed files only
    assert 'spec="::"' in lint["run"] and "pyproject.toml" in lint["run"]  # unless a linter's config changed
    check = next(s for s in jobs["lint"]["steps"] if s.get("name", "").startswith("Type-check"))
    assert "--changed-dependents=transitive check" in check["run"] and "pyproject.toml" in check["run"]


def test_the_changed_only_selection_is_pinned() -> None:
    """What a one-line domain edit reruns on a pull request, per service: CI recomputes these lists with
    `./pants dependents --transitive` and fails on a difference; here, what they must (not) contain.
    """
    pinned = json.loads(SELECTION.read_text(encoding="utf-8"))["edits"]
    step = next(
        s
        for s in _load(Path(".github/workflows/tests.yml"))["jobs"]["lint"]["steps"]
        if "changed-only/selection.json" in s.get("name", "")
    )
    assert './pants dependents --transitive "$edit"' in step["run"] and "diff -u" in step["run"]
    services = {
        "analytics_consumer": "src/python/netflix_clone/analytics_consumer/domain/qoe.py",
        "recommendation_service": "src/python/netflix_clone/recommendation_service/domain/ranking.py",
        "video_processor": "src/python/netflix_clone/video_processor/domain/thumbnails.py",
    }
    assert set(pinned) == set(services.values())
    for service, edit in services.items():
        selected = pinned[edit]
        # (Existence is not checked here: this test does not depend on those files, so that editing them
        # does not rerun it; CI recomputes every list from the real tree.)
        assert selected == sorted(selected)
        assert all(re.fullmatch(r"tests/python/netflix_clone_tests/\w+/test_\w+\.py:\w+", a) for a in selected)
        dirs = {a.split("/")[3] for a in selected}
        # Its own tests, the end-to-end quickstart, the benchmark tests that import it, and the three
        # repository tests that read every source file; never another service's, deploy's or release's.
        assert dirs <= {service, "quickstart", "benchmarks", "repo"}, (edit, dirs)
        assert service in dirs and "tests/python/netflix_clone_tests/quickstart/test_platform_flow.py:tests" in selected
        assert {a for a in selected if "/repo/" in a} == {
            "tests/python/netflix_clone_tests/repo/test_compose_and_images.py:compose",
            "tests/python/netflix_clone_tests/repo/test_layering.py:layering",
            "tests/python/netflix_clone_tests/repo/test_readme_tables.py:readme",
        }
    # The valgrind benchmark test counts instructions of recommendation and analytics code only.
    instructions = "tests/python/netflix_clone_tests/benchmarks/test_instructions.py:tests"
    assert instructions not in pinned[services["video_processor"]]
    assert instructions in pinned[services["analytics_consumer"]]
    # Not every test file of the directory: qoe.py does not reach the contract test.
    assert not any("test_contract.py" in a for a in pinned[services["analytics_consumer"]])


def test_deploy_workflow_sets_only_variables_the_deploy_pex_reads() -> None:
    """Issue 20: the workflow uses exactly the settings' names. A misspelt NFC_DEPLOY_* would be refused
    at run time; one without the prefix would be silently ignored, so every NFC_-less name must be a
    shell variable of the step's own script."""
    from netflix_clone.deploy.settings import DeploySettings
    from netflix_clone.platform.settings import env_vars

    known = {v.name for v in env_vars(DeploySettings)}
    workflow = _load(Path(".github/workflows/deploy.yml"))
    checked = 0
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            script = step.get("run", "")
            if "deploy.pex" not in script:
                continue
            for name in step.get("env") or {}:
                checked += 1
                if name.startswith("NFC_"):
                    assert name in known, f"{name} is not a deploy setting ({sorted(known)})"
                else:
                    assert f"${name}" in script or f"${{{name}}}" in script, f"{name} is set but unused"
    assert checked >= 20
