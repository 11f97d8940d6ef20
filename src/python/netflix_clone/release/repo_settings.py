"""repo-settings: branch protection kept in the repository and applied through GitHub's REST API.

  repo-settings apply [--dry-run]   compare the file with what GitHub has; PUT only when they differ
  repo-settings diff                the same comparison; exit 1 when they differ (drift detection)
  repo-settings show                what GitHub has, normalised (the form the comparison uses)
  repo-settings verify-checks       offline: every required check is a job that runs on pull requests

The file (default .github/branch-protection/main.json; the branch is the file's name) is the body of
`PUT /repos/{owner}/{repo}/branches/{branch}/protection` as GitHub documents it. The token comes from
GITHUB_TOKEN (or GH_TOKEN) and is never printed; it needs administration rights on the repository, which
the GITHUB_TOKEN of an Actions run never has. --repo defaults to GITHUB_REPOSITORY, --api-url to
GITHUB_API_URL or https://api.github.com (plain http only to a loopback address).

Exit codes (the README's table): 0 in sync, applied, or dry run; 1 GitHub refused or answered something
else than was applied, verify-checks found problems, or diff found drift; 2 usage (no token, bad file, bad
repository name).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlsplit

from netflix_clone.platform.cli import ArgumentParser, run
from netflix_clone.platform.errors import ExitCode
from netflix_clone.platform.settings import add_option
from netflix_clone.release.adapters.github import GitHub
from netflix_clone.release.domain.protection import (
    canonical_from_body,
    canonical_from_response,
    diff,
    required_check_names,
)
from netflix_clone.release.domain.workflows import pull_request_checks, verify_required_checks
from netflix_clone.release.errors import ProtectionError, ReleaseUsageError
from netflix_clone.release.settings import ReleaseSettings

__all__ = ["main"]

EXIT_OK, EXIT_ERROR = ExitCode.OK, ExitCode.FAILED
DEFAULT_FILE = ".github/branch-protection/main.json"


def _say(message: str) -> None:
    print(f"repo-settings: {message}", file=sys.stderr, flush=True)


def _load_body(path: Path) -> dict[str, Any]:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReleaseUsageError(f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ReleaseUsageError(f"{path} is not JSON: {exc}") from exc
    try:
        canonical_from_body(body)
    except ProtectionError as exc:
        raise ReleaseUsageError(f"{path}: {exc}") from exc
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
    raise ReleaseUsageError(f"--api-url {value}: the token goes only over https (or http to a loopback address)")


def _target(args: argparse.Namespace) -> tuple[str, str, str]:
    repository = args.repo or ""
    owner, _, name = repository.partition("/")
    if not owner or not name or "/" in name:
        raise ReleaseUsageError("--repo OWNER/NAME (or GITHUB_REPOSITORY) is required")
    branch = args.branch or Path(args.file).stem
    return owner, name, branch


def _client(args: argparse.Namespace) -> GitHub:
    token = args.token
    if not token:
        raise ReleaseUsageError("GITHUB_TOKEN is not set (a token with administration rights on the repository)")
    api_url = _api_url(args.api_url)
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
    return EXIT_ERROR if changes else EXIT_OK  # drift fails the check, like diff(1)


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


def build_parser(settings: ReleaseSettings) -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="repo-settings", description=__doc__)
    add_option(parser, "--log-level", settings, "log_level")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, help_text in (
        ("apply", cmd_apply, "apply the file (PUT only when GitHub differs)"),
        ("diff", cmd_diff, "show the difference; exit 1 when there is one"),
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
            add_option(p, "--repo", settings, "github_repository", help="OWNER/NAME")
            add_option(p, "--api-url", settings, "github_api_url")
            p.add_argument("--timeout-s", type=float, default=30.0)
            # Never a flag: a token on a command line ends up in shell history and process lists.
            p.set_defaults(token=settings.github_token or settings.gh_token)
        if name == "apply":
            p.add_argument("--dry-run", action="store_true", help="print the diff, apply nothing")
        p.set_defaults(func=func)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    return run("repo-settings", argv, build_parser, ReleaseSettings)


if __name__ == "__main__":
    sys.exit(main())
