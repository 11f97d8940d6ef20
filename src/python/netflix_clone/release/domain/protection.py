"""Branch protection as data: the request body GitHub's ``PUT .../branches/{branch}/protection`` takes,
the response ``GET`` returns, and the comparison that makes applying it idempotent.

The versioned file is the PUT body itself (GitHub REST API 2022-11-28, "Update branch protection"):
``required_status_checks``, ``enforce_admins``, ``required_pull_request_reviews`` and ``restrictions`` are
required (each may be null); the booleans ``required_linear_history``, ``allow_force_pushes``,
``allow_deletions``, ``block_creations``, ``required_conversation_resolution``, ``lock_branch`` and
``allow_fork_syncing`` default to false, and because a PUT replaces the whole protection an omitted one IS
false afterwards. GET answers with nested objects instead (``enforce_admins: {"url", "enabled"}``,
``allow_force_pushes: {"enabled"}``, ``required_status_checks: {"strict", "contexts", "checks": [{"context",
"app_id"}], ...}``, full user/team/app objects in restrictions), so both sides are normalised to one
canonical form before they are compared.

Status checks: a check given without ``app_id`` is bound by GitHub to the app that last reported it (GET
then shows that app's id), ``-1`` means any source (GET shows null), a number pins the app (15368 is GitHub
Actions). An omitted app_id therefore matches whatever GET shows; otherwise a second apply would never be
a no-op.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from netflix_clone.release.errors import ProtectionError

__all__ = [
    "ProtectionError",
    "BOOLEAN_SETTINGS",
    "REQUIRED_KEYS",
    "ANY_APP",
    "validate_body",
    "canonical_from_body",
    "canonical_from_response",
    "diff",
    "required_check_names",
]

REQUIRED_KEYS = (
    "required_status_checks",
    "enforce_admins",
    "required_pull_request_reviews",
    "restrictions",
)
BOOLEAN_SETTINGS = (
    "required_linear_history",
    "allow_force_pushes",
    "allow_deletions",
    "block_creations",
    "required_conversation_resolution",
    "lock_branch",
    "allow_fork_syncing",
)
_REVIEW_BOOLEANS = (
    "dismiss_stale_reviews",
    "require_code_owner_reviews",
    "require_last_push_approval",
)
_ACTOR_LISTS = ("dismissal_restrictions", "bypass_pull_request_allowances")
_KNOWN_KEYS = set(REQUIRED_KEYS) | set(BOOLEAN_SETTINGS)
ANY_APP = "(unset: whichever app reports it)"


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise ProtectionError(message)


def validate_body(body: Any) -> None:
    """Reject what GitHub would reject with 422 (and unknown keys, which are usually typos)."""
    _expect(isinstance(body, dict), "the protection file must hold a JSON object")
    missing = [key for key in REQUIRED_KEYS if key not in body]
    _expect(not missing, f"missing required key(s) {', '.join(missing)} (each may be null)")
    unknown = sorted(set(body) - _KNOWN_KEYS)
    _expect(not unknown, f"unknown key(s) {', '.join(unknown)}")
    checks = body["required_status_checks"]
    if checks is not None:
        _expect(isinstance(checks, dict), "required_status_checks must be an object or null")
        _expect(
            isinstance(checks.get("strict"), bool),
            "required_status_checks.strict must be a boolean",
        )
        has_contexts, has_checks = "contexts" in checks, "checks" in checks
        _expect(
            has_contexts != has_checks,
            "required_status_checks takes exactly one of `checks` or the deprecated `contexts`",
        )
        if has_checks:
            for check in checks["checks"]:
                _expect(
                    isinstance(check, dict) and isinstance(check.get("context"), str),
                    "each required_status_checks.checks item needs a string `context`",
                )
                app_id = check.get("app_id")
                _expect(
                    app_id is None or (isinstance(app_id, int) and not isinstance(app_id, bool)),
                    "app_id must be an integer",
                )
        else:
            _expect(
                all(isinstance(c, str) for c in checks["contexts"]),
                "required_status_checks.contexts must be a list of strings",
            )
    _expect(
        body["enforce_admins"] is None or isinstance(body["enforce_admins"], bool),
        "enforce_admins must be a boolean or null",
    )
    reviews = body["required_pull_request_reviews"]
    if reviews is not None:
        _expect(isinstance(reviews, dict), "required_pull_request_reviews must be an object or null")
        count = reviews.get("required_approving_review_count", 1)
        _expect(
            isinstance(count, int) and 0 <= count <= 6,
            "required_approving_review_count must be between 0 and 6",
        )
    for key in BOOLEAN_SETTINGS:
        _expect(
            body.get(key) is None or isinstance(body.get(key), bool),
            f"{key} must be a boolean",
        )


def _actor_names(value: Any, key_for_users: str = "login") -> dict[str, list[str]]:
    """users/teams/apps as sorted names, from either the PUT form (names) or GET's objects."""
    out: dict[str, list[str]] = {}
    for kind, key in (("users", key_for_users), ("teams", "slug"), ("apps", "slug")):
        items = (value or {}).get(kind) or []
        names = [item.get(key, "") if isinstance(item, dict) else str(item) for item in items]
        out[kind] = sorted(names)
    return out


def canonical_from_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """What the protection will be after PUT ``body`` (validated), in canonical form."""
    validate_body(body)
    out: dict[str, Any] = {}
    checks = body["required_status_checks"]
    if checks is None:
        out["required_status_checks"] = None
    else:
        items: dict[str, Any] = {}
        for check in checks.get("checks") or []:
            app_id = check.get("app_id")
            items[check["context"]] = ANY_APP if app_id is None else (None if app_id == -1 else app_id)
        for context in checks.get("contexts") or []:
            items[context] = ANY_APP
        out["required_status_checks"] = {"strict": checks["strict"], "checks": items}
    out["enforce_admins"] = bool(body["enforce_admins"])
    reviews = body["required_pull_request_reviews"]
    if reviews is None:
        out["required_pull_request_reviews"] = None
    else:
        canon: dict[str, Any] = {"required_approving_review_count": reviews.get("required_approving_review_count", 1)}
        for key in _REVIEW_BOOLEANS:
            canon[key] = bool(reviews.get(key, False))
        for key in _ACTOR_LISTS:
            # Omitted: not managed (GitHub keeps what is there; personal repositories have none).
            if key in reviews:
                canon[key] = _actor_names(reviews[key])
        out["required_pull_request_reviews"] = canon
    restrictions = body["restrictions"]
    out["restrictions"] = None if restrictions is None else _actor_names(restrictions)
    for key in BOOLEAN_SETTINGS:
        out[key] = bool(body.get(key))
    return out


def _enabled(value: Any) -> bool:
    return bool(value.get("enabled")) if isinstance(value, dict) else bool(value)


def canonical_from_response(response: Optional[Mapping[str, Any]]) -> Optional[dict[str, Any]]:
    """GET's answer in canonical form; None when the branch is not protected (GET answered 404)."""
    if response is None:
        return None
    out: dict[str, Any] = {}
    checks = response.get("required_status_checks")
    if not checks:
        out["required_status_checks"] = None
    else:
        items: dict[str, Any] = {}
        if "checks" in checks:
            for check in checks["checks"]:
                items[check["context"]] = check.get("app_id")
        else:  # older servers answer with contexts only
            items = {context: None for context in checks.get("contexts") or []}
        out["required_status_checks"] = {"strict": bool(checks.get("strict")), "checks": items}
    out["enforce_admins"] = _enabled(response.get("enforce_admins"))
    reviews = response.get("required_pull_request_reviews")
    if not reviews:
        out["required_pull_request_reviews"] = None
    else:
        canon: dict[str, Any] = {
            "required_approving_review_count": int(reviews.get("required_approving_review_count", 0))
        }
        for key in _REVIEW_BOOLEANS:
            canon[key] = bool(reviews.get(key, False))
        for key in _ACTOR_LISTS:
            canon[key] = _actor_names(reviews.get(key))
        out["required_pull_request_reviews"] = canon
    restrictions = response.get("restrictions")
    out["restrictions"] = None if not restrictions else _actor_names(restrictions)
    for key in BOOLEAN_SETTINGS:
        out[key] = _enabled(response.get(key))
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value == ANY_APP else f'"{value}"'
    return str(value)


def _diff_into(path: str, desired: Any, current: Any, out: list[str]) -> None:
    if path == "required_status_checks.checks":
        desired_checks: dict[str, Any] = desired
        current_checks: dict[str, Any] = current or {}
        for context in sorted(set(desired_checks) - set(current_checks)):
            out.append(f'+ {path}: "{context}" (app_id {_fmt(desired_checks[context])})')
        for context in sorted(set(current_checks) - set(desired_checks)):
            out.append(f'- {path}: "{context}"')
        for context in sorted(set(desired_checks) & set(current_checks)):
            want, have = desired_checks[context], current_checks[context]
            if want not in (ANY_APP, have):
                out.append(f'~ {path}["{context}"].app_id: {_fmt(have)} -> {_fmt(want)}')
        return
    if isinstance(desired, dict) and (current is None or isinstance(current, dict)):
        if current is None:
            out.append(f"+ {path}: enable")
        for key in desired:
            _diff_into(f"{path}.{key}" if path else key, desired[key], (current or {}).get(key), out)
        return
    if desired is None and current is not None:
        out.append(f"- {path}: disable")
        return
    if desired != current:
        if current is None:
            out.append(f"+ {path}: {_fmt(desired)}")
        else:
            out.append(f"~ {path}: {_fmt(current)} -> {_fmt(desired)}")


# An unprotected branch, in canonical form: what GitHub enforces when GET answers 404.
UNPROTECTED: dict[str, Any] = {
    "required_status_checks": None,
    "enforce_admins": False,
    "required_pull_request_reviews": None,
    "restrictions": None,
    **{key: False for key in BOOLEAN_SETTINGS},
}


def diff(desired: Mapping[str, Any], current: Optional[Mapping[str, Any]]) -> list[str]:
    """Changes that applying ``desired`` makes to ``current`` (both canonical); empty means a no-op.

    Lines read ``+ path: value`` (added), ``- path`` (removed), ``~ path: old -> new`` (changed).
    """
    out: list[str] = []
    if current is None:
        out.append("+ protection: enable (the branch is not protected today)")
    _diff_into("", dict(desired), dict(current if current is not None else UNPROTECTED), out)
    return out


def required_check_names(body: Mapping[str, Any]) -> list[str]:
    checks = body.get("required_status_checks") or {}
    names = [c["context"] for c in checks.get("checks") or []] + list(checks.get("contexts") or [])
    return names
