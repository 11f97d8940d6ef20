"""Check names from workflow files: matrix expansion, `if:` evaluation for pull requests, and the
problems a required check can have."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from netflix_clone.release.domain.workflows import (
    UNKNOWN,
    evaluate_condition,
    expand_matrix,
    job_check_names,
    pull_request_checks,
    verify_required_checks,
)

PR = {"github.event_name": "pull_request"}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (None, True),
        ("github.event_name == 'pull_request'", True),
        ("${{ github.event_name == 'pull_request' }}", True),
        ("github.event_name != 'pull_request'", False),
        ("github.event_name == 'push'", False),
        ("github.event_name == 'PULL_REQUEST'", True),  # string comparison ignores case
        ("github.event_name == 'push' || inputs.action == 'deploy'", UNKNOWN),
        ("github.event_name == 'push' && inputs.action == 'deploy'", False),
        ("!(github.event_name == 'push')", True),
        ("always()", True),
        ("failure()", UNKNOWN),
        ("startsWith(github.ref, 'refs/tags/') || github.event_name == 'pull_request'", True),
        (
            "inputs.action != 'rollback' && (github.event_name == 'push' || inputs.environment == 'production')",
            UNKNOWN,
        ),
        ("github.event_name == 'push' && (", UNKNOWN),  # unreadable: unknown, never assumed
    ],
)
def test_conditions_for_a_pull_request(condition: Any, expected: Any) -> None:
    assert evaluate_condition(condition, PR) is expected


def test_matrix_expansion_with_include_and_exclude() -> None:
    matrix = {
        "python": ["3.10", "3.11"],
        "os": ["ubuntu", "macos"],
        "exclude": [{"os": "macos", "python": "3.10"}],
        "include": [
            {"python": "3.11", "constraints": "CPython==3.11.*"},  # extends matching combos
            {"python": "3.12", "os": "ubuntu", "experimental": True},  # a new combo
        ],
    }
    combos = expand_matrix(matrix)
    assert combos == [
        {"python": "3.10", "os": "ubuntu"},
        {"python": "3.11", "os": "ubuntu", "constraints": "CPython==3.11.*"},
        {"python": "3.11", "os": "macos", "constraints": "CPython==3.11.*"},
        {"python": "3.12", "os": "ubuntu", "experimental": True},
    ]
    assert expand_matrix("${{ fromJSON(inputs.services) }}") is None
    assert expand_matrix({"service": "${{ fromJSON(inputs.services) }}"}) is None


def test_job_names() -> None:
    job = {
        "name": "test (Python ${{ matrix.python }})",
        "strategy": {"matrix": {"python": ["3.10", "3.11"]}},
    }
    assert job_check_names("test", job) == ["test (Python 3.10)", "test (Python 3.11)"]
    assert job_check_names("lint", {}) == ["lint"]
    assert job_check_names("push", {"strategy": {"matrix": {"arch": ["amd64", "arm64"]}}}) == [
        "push (amd64)",
        "push (arm64)",
    ]
    assert job_check_names("x", {"name": "deploy ${{ inputs.env }}"}) is None


WORKFLOWS: dict[str, Any] = {
    "ci.yml": yaml.safe_load(
        """
on:
  push: {branches: [main]}
  pull_request: {branches: [main]}
jobs:
  test:
    name: test (Python ${{ matrix.python }})
    strategy: {matrix: {python: ["3.10", "3.11"]}}
    runs-on: x
  lint: {runs-on: x}
  publish:
    if: github.event_name == 'push'
    runs-on: x
  after-publish:
    needs: publish
    runs-on: x
  report:
    needs: publish
    if: always()
    runs-on: x
  maybe:
    if: contains(github.event.pull_request.labels.*.name, 'slow')
    runs-on: x
"""
    ),
    "docs.yml": yaml.safe_load(
        """
on:
  pull_request:
    branches: [main]
    paths: ["docs/**"]
jobs:
  docs: {runs-on: x}
"""
    ),
    "release.yml": yaml.safe_load("on: {workflow_dispatch: {}}\njobs:\n  lint: {runs-on: x}\n"),
    "other.yml": yaml.safe_load("on: {pull_request: {branches: [develop]}}\njobs:\n  develop-only: {runs-on: x}\n"),
}


def test_pull_request_checks_of_a_branch() -> None:
    found, dynamic = pull_request_checks(WORKFLOWS, "main")
    assert set(found) == {
        "test (Python 3.10)",
        "test (Python 3.11)",
        "lint",
        "publish",
        "after-publish",
        "report",
        "maybe",
        "docs",
    }
    assert found["publish"][0].runs is False and found["after-publish"][0].runs is False
    assert found["report"][0].runs is True and found["maybe"][0].runs is UNKNOWN
    assert not dynamic


def test_required_checks_problems() -> None:
    assert not verify_required_checks(["test (Python 3.10)", "test (Python 3.11)", "lint"], WORKFLOWS, "main")
    problems = verify_required_checks(
        [
            "test (python 3.10)",
            "test (Python 3.9)",
            "publish",
            "after-publish",
            "maybe",
            "docs",
            "develop-only",
        ],
        WORKFLOWS,
        "main",
    )
    text = "\n".join(problems)
    assert "'test (python 3.10)' is not a job that runs on pull requests into main (case differs" in text
    assert "'test (Python 3.9)' is not a job" in text
    assert "'publish' (ci.yml:publish) is skipped on pull requests" in text
    assert "'after-publish' (ci.yml:after-publish) is skipped" in text  # its dependency is skipped
    assert "'maybe' (ci.yml:maybe) has a condition that cannot be evaluated" in text
    assert "'docs' (docs.yml:docs) comes from a workflow with a paths filter" in text
    assert "'develop-only' is not a job" in text
    assert len(problems) == 7


def test_a_name_reported_twice_is_ambiguous() -> None:
    workflows = {
        **WORKFLOWS,
        "more.yml": yaml.safe_load("on: [pull_request]\njobs:\n  lint: {runs-on: x}\n"),
    }
    assert any("more than one job" in p for p in verify_required_checks(["lint"], workflows, "main"))
