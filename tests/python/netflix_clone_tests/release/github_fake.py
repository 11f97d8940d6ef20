"""A stateful stand-in for GitHub's branch-protection endpoints, on a loopback port.

Modelled on the REST API reference (version 2022-11-28) and GitHub's observed answers:

* ``GET /repos/{owner}/{repo}/branches/{branch}/protection``: 200 with nested objects (``url`` fields,
  ``enforce_admins: {"url", "enabled"}``, ``required_status_checks: {"url", "strict", "contexts",
  "contexts_url", "checks": [{"context", "app_id"}]}``, ``required_signatures``, ``{"enabled": ...}`` for
  every boolean setting, user/team/app objects in restrictions; disabled sections absent); 404
  ``Branch not protected`` / ``Branch not found`` / ``Not Found``.
* ``PUT`` on the same path: the four required keys (``"x" wasn't supplied``), exactly one of ``contexts``
  and ``checks`` (GitHub's JSON-schema 422), then 200 with the GET shape. A check without ``app_id`` is
  bound to the app that last reported it (``recent_apps``), ``-1`` to any app (null).
* 401 ``Requires authentication`` / ``Bad credentials``; 403 ``Resource not accessible by integration``
  for a token without administration rights; 400 for an unsupported ``X-GitHub-Api-Version``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

API = "https://api.github.com"
DOCS = "https://docs.github.com/rest/branches/branch-protection"
_PATH = re.compile(r"^/repos/([^/]+)/([^/]+)/branches/(.+)/protection$")
_BOOLEANS = (
    "required_linear_history",
    "allow_force_pushes",
    "allow_deletions",
    "block_creations",
    "required_conversation_resolution",
    "lock_branch",
    "allow_fork_syncing",
)


def _user(login: str) -> dict[str, Any]:
    return {
        "login": login,
        "id": abs(hash(login)) % 10**7,
        "type": "User",
        "url": f"{API}/users/{login}",
        "site_admin": False,
    }


def _team(slug: str) -> dict[str, Any]:
    return {"slug": slug, "name": slug, "id": abs(hash(slug)) % 10**7, "permission": "push"}


def _app(slug: str) -> dict[str, Any]:
    return {"slug": slug, "id": abs(hash(slug)) % 10**5, "name": slug, "owner": _user("org")}


def _actors(base: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "url": base,
        "users_url": f"{base}/users",
        "teams_url": f"{base}/teams",
        "users": [_user(u) for u in value.get("users", [])],
        "teams": [_team(t) for t in value.get("teams", [])],
        "apps": [_app(a) for a in value.get("apps", [])],
    }


def response_for(
    owner: str, repo: str, branch: str, body: dict[str, Any], recent_apps: dict[str, int]
) -> dict[str, Any]:
    """The GET answer after PUT ``body`` (GitHub's documented shape)."""
    base = f"{API}/repos/{owner}/{repo}/branches/{branch}/protection"
    out: dict[str, Any] = {"url": base}
    checks = body.get("required_status_checks")
    if checks is not None:
        items = []
        for check in checks.get("checks") or []:
            app_id = check.get("app_id")
            items.append(
                {
                    "context": check["context"],
                    "app_id": None
                    if app_id == -1
                    else (recent_apps.get(check["context"]) if app_id is None else app_id),
                }
            )
        for context in checks.get("contexts") or []:
            items.append({"context": context, "app_id": recent_apps.get(context)})
        out["required_status_checks"] = {
            "url": f"{base}/required_status_checks",
            "strict": bool(checks.get("strict")),
            "contexts": [i["context"] for i in items],
            "contexts_url": f"{base}/required_status_checks/contexts",
            "checks": items,
        }
    out["required_signatures"] = {"url": f"{base}/required_signatures", "enabled": False}
    out["enforce_admins"] = {
        "url": f"{base}/enforce_admins",
        "enabled": bool(body.get("enforce_admins")),
    }
    reviews = body.get("required_pull_request_reviews")
    if reviews is not None:
        section: dict[str, Any] = {
            "url": f"{base}/required_pull_request_reviews",
            "dismiss_stale_reviews": bool(reviews.get("dismiss_stale_reviews", False)),
            "require_code_owner_reviews": bool(reviews.get("require_code_owner_reviews", False)),
            "required_approving_review_count": int(reviews.get("required_approving_review_count", 1)),
            "require_last_push_approval": bool(reviews.get("require_last_push_approval", False)),
        }
        if reviews.get("dismissal_restrictions"):
            section["dismissal_restrictions"] = _actors(
                f"{base}/dismissal_restrictions", reviews["dismissal_restrictions"]
            )
        if reviews.get("bypass_pull_request_allowances"):
            allowances = _actors("", reviews["bypass_pull_request_allowances"])
            section["bypass_pull_request_allowances"] = {k: allowances[k] for k in ("users", "teams", "apps")}
        out["required_pull_request_reviews"] = section
    if body.get("restrictions") is not None:
        restrictions = _actors(f"{base}/restrictions", body["restrictions"])
        restrictions["apps_url"] = f"{base}/restrictions/apps"
        out["restrictions"] = restrictions
    for key in _BOOLEANS:
        out[key] = {"enabled": bool(body.get(key))}
    return out


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeGitHub:
    url: str = ""
    token: str = "ghp_fake-admin-token-0123456789"  # pragma: allowlist secret; nosec B105 - a test token
    read_only_token: str = "ghp_fake-read-only-token-0123456789"  # pragma: allowlist secret; nosec B105
    repos: dict[tuple[str, str], dict[str, Optional[dict[str, Any]]]] = field(default_factory=dict)
    recent_apps: dict[str, int] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # statuses to answer before behaving

    def add_branch(self, owner: str, repo: str, branch: str, protection: Optional[dict[str, Any]] = None) -> None:
        self.repos.setdefault((owner, repo), {})[branch] = protection

    def count(self, method: str) -> int:
        return sum(1 for c in self.calls if c.method == method)

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        lowered = {k.lower(): v for k, v in headers.items()}
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                return 400, {"message": "Problems parsing JSON", "documentation_url": f"{DOCS}"}
        self.calls.append(Call(method, path, headers, body))
        if self.fail_next:
            return self.fail_next.pop(0), {"message": "Server Error"}
        version = lowered.get("x-github-api-version")
        if version is not None and version != "2022-11-28":
            return 400, {
                "message": f"API version {version} is not supported.",
                "documentation_url": DOCS,
            }
        auth = lowered.get("authorization", "")
        if not auth:
            return 401, {
                "message": "Requires authentication",
                "documentation_url": "https://docs.github.com/rest",
            }
        token = auth.split(" ", 1)[1] if " " in auth else ""
        if token not in (self.token, self.read_only_token):
            return 401, {
                "message": "Bad credentials",
                "documentation_url": "https://docs.github.com/rest",
            }
        match = _PATH.match(path)
        if not match:
            return 404, {
                "message": "Not Found",
                "documentation_url": "https://docs.github.com/rest",
            }
        owner, repo, branch = match.groups()
        branch = branch.replace("%2F", "/")
        if (owner, repo) not in self.repos:
            return 404, {
                "message": "Not Found",
                "documentation_url": "https://docs.github.com/rest",
            }
        branches = self.repos[(owner, repo)]
        if branch not in branches:
            return 404, {
                "message": "Branch not found",
                "documentation_url": f"{DOCS}#get-branch-protection",
            }
        if method == "GET":
            stored = branches[branch]
            if stored is None:
                return 404, {
                    "message": "Branch not protected",
                    "documentation_url": f"{DOCS}#get-branch-protection",
                }
            return 200, response_for(owner, repo, branch, stored, self.recent_apps)
        if method == "PUT":
            if token != self.token:
                return 403, {
                    "message": "Resource not accessible by integration",
                    "documentation_url": f"{DOCS}#update-branch-protection",
                }
            problem = _invalid(body)
            if problem:
                return 422, {
                    "message": f"Invalid request.\n\n{problem}",
                    "documentation_url": f"{DOCS}#update-branch-protection",
                }
            stored = json.loads(json.dumps(body))
            # GitHub binds a check given without app_id to the app that reported it last.
            for check in (stored.get("required_status_checks") or {}).get("checks") or []:
                if check.get("app_id") is None and check["context"] in self.recent_apps:
                    check["app_id"] = self.recent_apps[check["context"]]
            branches[branch] = stored
            return 200, response_for(owner, repo, branch, stored, self.recent_apps)
        return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}


def _invalid(body: Any) -> Optional[str]:
    if not isinstance(body, dict):
        return "For 'links/0/schema', nil is not an object."
    for key in (
        "required_status_checks",
        "enforce_admins",
        "required_pull_request_reviews",
        "restrictions",
    ):
        if key not in body:
            return f'"{key}" wasn\'t supplied.'
    checks = body["required_status_checks"]
    if checks is not None and (("contexts" in checks) == ("checks" in checks)):
        return (
            'No subschema in "anyOf" matched.\nMore than one subschema in "oneOf" matched.\n'
            f"For 'anyOf/1', {checks} is not a null."
        )
    return None


@contextmanager
def fake_github() -> Iterator[FakeGitHub]:
    state = FakeGitHub()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            with lock:
                status, payload = state.handle(self.command, self.path, dict(self.headers), raw)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("X-GitHub-Media-Type", "github.v3; format=json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  # pylint: disable=redefined-builtin
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
