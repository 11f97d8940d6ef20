"""Branch protection: the PUT body and GET's answer normalise to one form, so equal means no-op."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from netflix_clone.release.domain.protection import (
    ProtectionError,
    canonical_from_body,
    canonical_from_response,
    diff,
    validate_body,
)
from netflix_clone_tests.release.github_fake import response_for

BODY: dict[str, Any] = {
    "required_status_checks": {
        "strict": True,
        "checks": [{"context": "lint", "app_id": 15368}, {"context": "test (Python 3.11)"}],
    },
    "enforce_admins": True,
    "required_pull_request_reviews": {
        "dismiss_stale_reviews": True,
        "required_approving_review_count": 1,
    },
    "restrictions": None,
    "allow_force_pushes": False,
    "allow_deletions": False,
    "required_conversation_resolution": True,
}


def test_a_stored_body_compares_equal_to_itself() -> None:
    # What GET returns after PUT BODY (as the fake, modelled on GitHub's documented answer, builds it),
    # including the app id GitHub picks for the check given without one.
    response = response_for("o", "r", "main", BODY, {"test (Python 3.11)": 15368})
    assert response["enforce_admins"] == {
        "url": "https://api.github.com/repos/o/r/branches/main/protection/enforce_admins",
        "enabled": True,
    }
    assert not diff(canonical_from_body(BODY), canonical_from_response(response))


def test_unprotected_branch_diff_lists_everything() -> None:
    changes = diff(canonical_from_body(BODY), None)
    assert changes[0].startswith("+ protection: enable")
    assert '+ required_status_checks.checks: "lint" (app_id 15368)' in changes
    assert "+ required_pull_request_reviews: enable" in changes
    assert "+ required_pull_request_reviews.required_approving_review_count: 1" in changes
    assert "~ required_conversation_resolution: false -> true" in changes


def test_each_kind_of_drift_is_named() -> None:
    drifted = copy.deepcopy(BODY)
    drifted["required_status_checks"]["checks"] = [
        {"context": "lint", "app_id": None},
        {"context": "old job"},
    ]
    drifted["required_status_checks"]["strict"] = False
    drifted["required_pull_request_reviews"]["required_approving_review_count"] = 0
    drifted["allow_force_pushes"] = True
    drifted["restrictions"] = {"users": ["octocat"], "teams": [], "apps": []}
    current = canonical_from_response(response_for("o", "r", "main", drifted, {"old job": 99}))
    changes = diff(canonical_from_body(BODY), current)
    assert changes == [
        "~ required_status_checks.strict: false -> true",
        '+ required_status_checks.checks: "test (Python 3.11)" (app_id (unset: whichever app reports it))',
        '- required_status_checks.checks: "old job"',
        '~ required_status_checks.checks["lint"].app_id: null -> 15368',
        "~ required_pull_request_reviews.required_approving_review_count: 0 -> 1",
        "- restrictions: disable",
        "~ allow_force_pushes: true -> false",
    ]


def test_omitted_booleans_are_false_because_put_replaces_everything() -> None:
    current = copy.deepcopy(BODY)
    current["required_linear_history"] = True
    changes = diff(
        canonical_from_body(BODY),
        canonical_from_response(response_for("o", "r", "main", current, {})),
    )
    assert changes == ["~ required_linear_history: true -> false"]


def test_deprecated_contexts_match_any_app() -> None:
    body = {**BODY, "required_status_checks": {"strict": True, "contexts": ["lint"]}}
    current = canonical_from_response(response_for("o", "r", "main", body, {"lint": 15368}))
    assert not diff(canonical_from_body(body), current)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b.pop("restrictions"), "missing required key(s) restrictions"),
        (lambda b: b.update(allow_force_push=False), "unknown key(s) allow_force_push"),
        (
            lambda b: b["required_status_checks"].update(contexts=["x"]),
            "exactly one of `checks` or the deprecated `contexts`",
        ),
        (lambda b: b["required_status_checks"].pop("checks"), "exactly one of"),
        (lambda b: b["required_status_checks"].pop("strict"), "strict must be a boolean"),
        (
            lambda b: b["required_pull_request_reviews"].update(required_approving_review_count=7),
            "between 0 and 6",
        ),
        (lambda b: b.update(allow_deletions="no"), "allow_deletions must be a boolean"),
        (lambda b: b.update(enforce_admins={"enabled": True}), "enforce_admins must be a boolean"),
    ],
)
def test_bodies_github_would_reject(mutate: Any, message: str) -> None:
    body = copy.deepcopy(BODY)
    mutate(body)
    with pytest.raises(ProtectionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_body(body)
