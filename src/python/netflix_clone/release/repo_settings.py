"""repo-settings: branch protection kept in the repository and applied through GitHub's REST API.

  repo-settings apply [--dry-run]   compare the file with what GitHub has; PUT only when they differ
  repo-settings diff                the same comparison; exit 3 when they differ (drift detection)
  repo-settings show                what GitHub has, normalised (the form the comparison uses)
  repo-settings verify-checks       offline: every required check is a job that runs on pull requests

The file (default .github/branch-protection/main.json; the branch is the file's name) is the body of
`PUT /repos/{owner}/{repo}/branches/{branch}/protection` as GitHub documents it. The token comes from
GITHUB_TOKEN (or GH_TOKEN) and is never printed; it needs administration rights on the repository, which
the GITHUB_TOKEN of an Actions run never has. --repo defaults to GITHUB_REPOSITORY, --api-url to
GITHUB_API_URL or https://api.github.com (plain http only to a loopback address).

Exit codes: 0 in sync, applied, or dry run; 1 GitHub refused or answered something else than was applied,
or verify-checks found problems; 2 usage (no token, bad file, bad repository name); 3 diff found drift.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlsplit

from netflix_clone.release.adapters.github import GitHub, GitHubError
from netflix_clone.release.domain.protection import (
    ProtectionError,
    canonical_from_body,
    canonical_from_response,
    diff,
    required_check_names,
)
from netflix_clone.release.domain.workflows import pull_request_checks, verify_required_checks

__all__ = ["main"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_DRIFT = 0, 1, 2, 3
DEFAULT_FILE = ".github/branch-protection/main.json"


class UsageError(Exception):
    pass


def _say(message: str) -> None:
    print(f"repo-settings: {message}", file=sys.stderr, flush=True)


def _load_body(path: Path) -> dict[str, Any]:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise UsageError(f"{path} is not JSON: {exc}") from exc
    try:
        canonical_from_body(body)
    except ProtectionError as exc:
        raise UsageError(f"{path}: {exc}") from exc
    assert isinstance(body, dict)  # nosec B101 - canonical_from_body validated it
    return body


def _api_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme == "https":
        return value
    if parts.scheme == "http":
        host = parts.hostname or ""
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if loopback:
            return value
    raise UsageError(f"--api-url {value}: the token goes only over https (or http to a loopback address)")


def _target(args: argparse.Namespace) -> tuple[str, str, str]:
    repository = args.repo or os.environ.get("GITHUB_REPOSITORY") or ""
    owner, _, name = repository.partition("/")
    if not owner or not name or "/" in name:
        raise UsageError("--repo OWNER/NAME (or GITHUB_REPOSITORY) is required")
    branch = args.branch or Path(args.file).stem
    return owner, name, branch


def _client(args: argparse.Namespace) -> GitHub:
    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    if not token:
        raise UsageError("GITHUB_TOKEN is not set (a token with administration rights on the repository)")
    api_url = _api_url(args.api_url or os.environ.get("GITHUB_API_URL") or "https://api.github.com")
    return GitHub(token, api_url, timeout_s=args.timeout_s)


def _compare(
    args: argparse.Namespace,
) -> tuple[dict[str, Any], list[str], GitHub, tuple[str, str, str]]:
    body = _load_body(Path(args.file))
    owner, name, branch = _target(args)
    github = _client(args)
    current = canonical_from_response(github.get_protection(owner, name, branch))
    changes = diff(canonical_from_body(body), current)
    return body, changes, github, (owner, name, branch)


def _report(args: argparse.Namespace, where: tuple[str, str, str], changes: list[str], **extra: Any) -> None:
    owner, name, branch = where
    if args.json:
        print(
            json.dumps(
                {
                    "repository": f"{owner}/{name}",
                    "branch": branch,
                    "in_sync": not changes,
                    "changes": changes,
                    **extra,
                },
                indent=2,
            )
        )
        return
    if not changes:
        print(f"{owner}/{name} {branch}: protection matches {args.file}; nothing to apply")
        return
    print(f"{owner}/{name} {branch}: {len(changes)} change(s) from {args.file}")
    for line in changes:
        print(f"  {line}")


def cmd_apply(args: argparse.Namespace) -> int:
    body, changes, github, where = _compare(args)
    with github:
        if not changes or args.dry_run:
            _report(args, where, changes, applied=False, dry_run=args.dry_run)
            if changes:
                print("DRY RUN - nothing was applied", file=sys.stderr if args.json else sys.stdout)
            return EXIT_OK
        owner, name, branch = where
        stored = canonical_from_response(github.put_protection(owner, name, branch, body))
    left = diff(canonical_from_body(body), stored)
    _report(args, where, changes, applied=True, dry_run=False, not_stored=left)
    if left:
        _say("GitHub stored something other than the file says (plan or repository type limits?):")
        for line in left:
            _say(f"  {line}")
        return EXIT_ERROR
    if not args.json:
        print(f"applied; {where[0]}/{where[1]} {where[2]} now matches {args.file}")
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    _body, changes, github, where = _compare(args)
    github.close()
    _report(args, where, changes)
    return EXIT_DRIFT if changes else EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    owner, name, branch = _target(args)
    with _client(args) as github:
        current = canonical_from_response(github.get_protection(owner, name, branch))
    print(json.dumps({"repository": f"{owner}/{name}", "branch": branch, "protection": current}, indent=2))
    return EXIT_OK


def load_workflows(directory: Path) -> dict[str, dict[Any, Any]]:
    import yaml

    workflows = {}
    for path in sorted(directory.glob("*.y*ml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            workflows[path.name] = data
    return workflows


def cmd_verify_checks(args: argparse.Namespace) -> int:
    body = _load_body(Path(args.file))
    branch = args.branch or Path(args.file).stem
    workflows = load_workflows(Path(args.workflows))
    required = required_check_names(body)
    problems = verify_required_checks(required, workflows, branch)
    found, dynamic = pull_request_checks(workflows, branch)
    if args.json:
        print(json.dumps({"ok": not problems, "required": required, "problems": problems}, indent=2))
    else:
        for name in required:
            sources = ", ".join(f"{s.workflow}:{s.job}" for s in found.get(name, []))
            print(f"{'✓' if sources else '✗'} {name}{f' <- {sources}' if sources else ''}")
        others = sorted(set(found) - set(required))
        skipped = [n for n in others if all(s.runs is False for s in found[n])]
        optional = [n for n in others if n not in skipped]
        if optional:
            print(f"run on pull requests, not required: {', '.join(optional)}")
        if skipped:
            print(f"skipped on pull requests: {', '.join(skipped)}")
        if dynamic:
            print(f"names not known statically: {', '.join(dynamic)}")
    for problem in problems:
        _say(problem)
    return EXIT_ERROR if problems else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="repo-settings",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, help_text in (
        ("apply", cmd_apply, "apply the file (PUT only when GitHub differs)"),
        ("diff", cmd_diff, "show the difference; exit 3 when there is one"),
        ("show", cmd_show, "GitHub's current protection, normalised"),
        ("verify-checks", cmd_verify_checks, "required checks against the workflows (offline)"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--file", default=DEFAULT_FILE, help=f"the protection file (default {DEFAULT_FILE})")
        p.add_argument("--branch", help="the branch (default: the file's name without .json)")
        p.add_argument("--json", action="store_true")
        if name == "verify-checks":
            p.add_argument("--workflows", default=".github/workflows")
        else:
            p.add_argument("--repo", help="OWNER/NAME (default: GITHUB_REPOSITORY)")
            p.add_argument("--api-url", help="default: GITHUB_API_URL or https://api.github.com")
            p.add_argument("--timeout-s", type=float, default=30.0)
        if name == "apply":
            p.add_argument("--dry-run", action="store_true", help="print the diff, apply nothing")
        p.set_defaults(func=func)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except UsageError as exc:
        _say(str(exc))
        return EXIT_USAGE
    except GitHubError as exc:
        _say(str(exc))
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
