"""release: the next semantic version from Conventional Commits, its changelog, and the annotated tag.

  release [--dry-run] [--pre rc] [--next-version X.Y.Z] [--json] [--notes-out FILE]
      Reads the commits since the last release tag (the highest v<semver> tag reachable from HEAD that is
      not a pre-release), computes the next version, writes the changelog section (grouped by type and
      scope, with the service images each commit touched, from Pants) and creates the annotated tag
      v<version> at HEAD. It never pushes: `git push origin v<version>` does (see .github/workflows/release.yml).
      --dry-run prints all of it and changes nothing in the repository; it exits with the code a real
      run would exit with, so it doubles as a rehearsal.
  release lint-commits <range> [--subject TEXT]
      Checks every commit message of <range> (`A..B`; a single ref means `<ref>..HEAD`) and optional
      extra headers (a pull request's title, which becomes the squash commit's header).

Exit codes (the README's table): 0 tagged (dry run: would tag); 1 git or Pants failed; 2 usage, or a
refusal, named in the JSON's "outcome": dirty (uncommitted changes), wrong-branch (HEAD is not on the
release branch), nothing-to-release (no feat, fix, perf, revert of released work or breaking change since
the last release, or HEAD is released already), tag-exists.
lint-commits: 0 every message passes; 1 some fail (reasons per commit); 2 usage or bad range.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional, Sequence

from netflix_clone.platform.cli import ArgumentParser, run
from netflix_clone.platform.errors import ExitCode
from netflix_clone.platform.settings import add_option
from netflix_clone.release.adapters.git import Git, Tag
from netflix_clone.release.adapters.pants import Pants, image_dirs
from netflix_clone.release.domain.commits import RawCommit
from netflix_clone.release.domain.lint import DEFAULT_TYPES, LintResult, lint_commit, lint_message
from netflix_clone.release.domain.release import ReleasePlan, plan_release, render_changelog
from netflix_clone.release.domain.services import touched_by_closure, touched_by_prefix
from netflix_clone.release.domain.versions import Version
from netflix_clone.release.errors import GitError, NothingToRelease, PantsUnavailable, VersionError
from netflix_clone.release.settings import ReleaseSettings

__all__ = ["OUTCOMES", "main"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE = ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE
# Why a release is refused (exit 2, nothing changed): the JSON's "outcome" and each blocker's.
DIRTY, WRONG_BRANCH, NOTHING, TAG_EXISTS = "dirty", "wrong-branch", "nothing-to-release", "tag-exists"
OUTCOMES = (DIRTY, WRONG_BRANCH, NOTHING, TAG_EXISTS)
SPEC_URL = "https://www.conventionalcommits.org/en/v1.0.0/"


def _err(message: str) -> None:
    sys.stdout.flush()
    print(f"release: {message}", file=sys.stderr, flush=True)


class Services:
    """Which images each commit touched and which the release changes, from Pants or path prefixes."""

    def __init__(
        self,
        touched: dict[str, tuple[str, ...]],
        changed: list[str],
        source: str,
        pants: bool,
        changed_how: str = "",
    ) -> None:
        self.touched = touched
        self.changed = changed
        self.source = source  # how the images per commit were found
        self.pants = pants
        self.changed_how = changed_how  # how the images that change were found


def _services(
    root: Path,
    git: Git,
    commits: Sequence[RawCommit],
    previous: Optional[Tag],
    pants_command: Optional[str],
) -> Services:
    reason = "--no-pants"
    if pants_command:
        pants = Pants(root, shlex.split(pants_command))
        try:
            images = pants.images()
            closures = {name: pants.closure(address) for name, address in images.items()}
            existing = git.paths_at("HEAD")
            touched = {c.sha: touched_by_closure(c.files, closures, existing) for c in commits}
            if previous is None:
                changed, how = sorted(images), "first release: every image is new"
            else:
                changed = pants.changed_images(previous.name)
                how = f"`pants --changed-since={previous.name} --changed-dependents=transitive`"
            return Services(
                touched,
                changed,
                "from Pants (the files of each image's `pants filedeps --transitive`)",
                pants=True,
                changed_how=how,
            )
        except PantsUnavailable as exc:
            reason = str(exc)
    images_by_dir = image_dirs(root)
    touched = {c.sha: touched_by_prefix(c.files, images_by_dir) for c in commits}
    changed = sorted({image for images in touched.values() for image in images})
    how = "path prefixes of the commits' files"
    if previous is None:
        changed, how = images_by_dir, "first release: every image is new"
    _err(f"warning: service images from path prefixes, not Pants ({reason})")
    return Services(
        touched,
        changed,
        f"from path prefixes (Pants unavailable: {reason})",
        pants=False,
        changed_how=how,
    )


def _plan_json(plan: ReleasePlan) -> list[dict[str, Any]]:
    rows = []
    for entry in (*plan.entries, *plan.unconventional):
        commit = entry.commit
        rows.append(
            {
                "sha": commit.sha,
                "header": commit.header,
                "type": commit.type,
                "scope": commit.scope,
                "breaking": commit.breaking,
                "bump": entry.bump.label,
                "services": list(entry.services) if entry.services is not None else None,
            }
        )
    return rows


def _release(args: argparse.Namespace) -> int:
    git = Git(Path(args.repo))
    try:
        root = git.toplevel()
        head = git.head()
    except GitError as exc:
        _err(f"not a git repository with commits: {exc}")
        return EXIT_USAGE
    git = Git(root)
    explicit: Optional[Version] = None
    try:
        if args.next_version:
            explicit = Version.parse(args.next_version.removeprefix("v"))
    except VersionError as exc:
        _err(str(exc))
        return EXIT_USAGE

    blockers: list[tuple[str, str]] = []
    try:
        dirty = git.dirty()
        branch = git.branch()
        reachable = git.tags(merged_into="HEAD")
        every = git.tags()
    except GitError as exc:
        _err(str(exc))
        return EXIT_ERROR
    if dirty:
        shown = ", ".join(line.strip() for line in dirty[:5]) + (" …" if len(dirty) > 5 else "")
        blockers.append((DIRTY, f"the working tree has uncommitted changes ({shown})"))
    if branch != args.release_branch:
        where = f"branch {branch}" if branch else "a detached HEAD"
        blockers.append((WRONG_BRANCH, f"HEAD is on {where}; releases are cut from {args.release_branch}"))
    if blockers and not args.dry_run:
        for outcome, message in blockers:
            _err(f"refusing to tag: {message} (exit 2, {outcome})")
        if args.json:
            print(json.dumps(_refusal(args, blockers), indent=2))
        return EXIT_USAGE

    stable = [t for t in reachable if not t.version.is_prerelease]
    previous = max(stable, key=lambda t: t.version) if stable else None
    revision_range = f"{previous.name}..HEAD" if previous else "HEAD"
    try:
        commits = git.commits(revision_range)
    except GitError as exc:
        _err(str(exc))
        return EXIT_ERROR
    at_head = [t for t in every if t.sha == head]
    released = [t for t in at_head if not t.version.is_prerelease]

    def nothing(message: str) -> int:
        reasons = [*blockers, (NOTHING, message)]
        for outcome, text in reasons:
            _err(f"refusing to tag: {text} (exit 2, {outcome})")
        if args.json:
            print(json.dumps(_refusal(args, reasons), indent=2))
        return EXIT_USAGE

    if released:
        return nothing(f"HEAD is released already as {released[0].name}")
    try:
        plan = plan_release(
            commits,
            previous.version if previous else None,
            [t.version for t in every],
            args.pre,
            explicit,
        )
    except NothingToRelease as exc:
        return nothing(str(exc))
    except VersionError as exc:
        _err(str(exc))
        return EXIT_USAGE
    same_series = [t for t in at_head if t.version.core == plan.version.core and t.version.is_prerelease and args.pre]
    if same_series:
        return nothing(f"HEAD is {same_series[0].name} already; commit something first")
    if git.tag_exists(plan.tag):
        blockers.append((TAG_EXISTS, f"tag {plan.tag} exists already (on another commit)"))

    services = _services(root, git, commits, previous, None if args.no_pants else args.pants)
    plan = plan_release(
        commits,
        previous.version if previous else None,
        [t.version for t in every],
        args.pre,
        explicit,
        services=services.touched,
    )
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    changelog = render_changelog(plan, date, services.changed, services.source, services.changed_how)
    if args.notes_out:
        Path(args.notes_out).write_text(changelog, encoding="utf-8")

    code = EXIT_USAGE if blockers else EXIT_OK
    tagged = False
    if not args.dry_run and not blockers:
        try:
            git.create_annotated_tag(plan.tag, f"Release {plan.tag}\n\n{changelog}", sign=args.sign)
            tagged = True
        except GitError as exc:
            _err(f"could not create {plan.tag}: {exc}")
            code = EXIT_ERROR

    if args.json:
        print(
            json.dumps(
                {
                    "outcome": blockers[0][0]
                    if blockers
                    else ("tagged" if tagged else "dry-run" if args.dry_run else "failed"),
                    "dry_run": args.dry_run,
                    "tagged": tagged,
                    "exit_code": code,
                    "tag": plan.tag,
                    "version": str(plan.version),
                    "prerelease": plan.version.is_prerelease,
                    "previous_tag": previous.name if previous else None,
                    "bump": plan.bump.label,
                    "range": revision_range,
                    "head": head,
                    "branch": branch,
                    "images_changed": services.changed,
                    "services_from": "pants" if services.pants else "path-prefixes",
                    "services_note": services.source,
                    "commits": _plan_json(plan),
                    "reverted_before_release": [
                        {"sha": o.sha, "header": o.header, "reverted_by": r.sha} for o, r in plan.cancelled
                    ],
                    "changelog": changelog,
                    "blockers": [{"outcome": o, "message": m} for o, m in blockers],
                },
                indent=2,
            )
        )
    else:
        counted = len(plan.entries)
        print(
            f"{'DRY RUN - ' if args.dry_run else ''}next version {plan.version} ({plan.tag}): "
            f"{plan.bump.label} bump after {previous.name if previous else 'no earlier release'}; "
            f"{len(commits)} commit(s) in {revision_range}, {counted} conventional, "
            f"{len(plan.unconventional)} not, {len(plan.merges)} merge(s) skipped"
        )
        print(
            f"images that change: {', '.join(services.changed) or 'none'} ({services.changed_how}); "
            f"per commit {services.source}"
        )
        print()
        print(changelog, end="")
        print()
        if tagged:
            print(f"created annotated tag {plan.tag} at {head[:12]}; publish it with: git push origin {plan.tag}")
        elif args.dry_run:
            print(f"DRY RUN - would create annotated tag {plan.tag} at {head[:12]}; nothing was changed")
    for outcome, message in blockers:
        verb = "a real run would refuse" if args.dry_run else "refusing to tag"
        _err(f"{verb}: {message} (exit 2, {outcome})")
    return code


def _refusal(args: argparse.Namespace, reasons: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "outcome": reasons[0][0],
        "dry_run": args.dry_run,
        "tagged": False,
        "exit_code": int(EXIT_USAGE),
        "blockers": [{"outcome": o, "message": m} for o, m in reasons],
    }


def _print_lint(results: list[LintResult], as_json: bool, github_actions: bool = False) -> int:
    failed = [r for r in results if not r.ok]
    annotate = github_actions
    if as_json:
        print(json.dumps({"ok": not failed, "results": [r.as_dict() for r in results]}, indent=2))
    else:
        for result in results:
            label = result.sha[:7] or "title"
            if result.skipped:
                print(f"- {label} {result.header}: skipped, {result.skipped}")
            elif result.ok:
                print(f"✓ {label} {result.header}")
            else:
                print(f"✗ {label} {result.header}: {'; '.join(result.errors)}")
    if annotate:
        for result in failed:
            reasons = "; ".join(result.errors).replace("%", "%25").replace("\n", "%0A")
            print(f"::error title=commit message {result.sha[:7] or '(PR title)'}::{result.header} - {reasons}")
    checked = [r for r in results if not r.skipped]
    sys.stdout.flush()  # the per-commit lines before the summary, also when both go to one terminal
    if failed:
        _err(f"lint-commits: {len(failed)} of {len(checked)} message(s) fail; format: {SPEC_URL}")
        return 1
    print(f"lint-commits: {len(checked)} message(s) pass", file=sys.stderr)
    return 0


def _lint(args: argparse.Namespace) -> int:
    git = Git(Path(args.repo))
    revision_range = args.range if ".." in args.range else f"{args.range}..HEAD"
    try:
        for side in revision_range.replace("...", "..").split(".."):
            if side:
                git.resolve(side)
        commits = git.commits(revision_range)
    except GitError as exc:
        _err(f"lint-commits: bad range {args.range!r}: {exc}")
        return EXIT_USAGE
    types = tuple(args.types.split(",")) if args.types else DEFAULT_TYPES
    scopes = tuple(args.scopes.split(",")) if args.scopes else None
    results = [lint_commit(c, types, scopes, args.max_header_length) for c in commits]
    for subject in args.subject or []:
        results.append(lint_message(subject, "", types, scopes, args.max_header_length))
    return _print_lint(results, args.json, args.github_actions)


def _release_parser(settings: ReleaseSettings) -> argparse.ArgumentParser:
    p = ArgumentParser(prog="release", description=__doc__)
    add_option(p, "--log-level", settings, "log_level")
    p.add_argument("--repo", default=".", help="a directory inside the repository (default: .)")
    p.add_argument("--release-branch", default="main", help="the branch releases are cut from")
    p.add_argument("--dry-run", action="store_true", help="print everything, change nothing")
    p.add_argument("--pre", metavar="LABEL", help="a pre-release: rc gives <next>-rc.N")
    p.add_argument("--next-version", metavar="X.Y.Z", help="this version instead of the computed one")
    p.add_argument("--json", action="store_true")
    p.add_argument("--notes-out", metavar="FILE", help="also write the changelog section here")
    p.add_argument("--pants", default="./pants", help="how to run Pants (default: ./pants)")
    p.add_argument("--no-pants", action="store_true", help="services from path prefixes only")
    p.add_argument("--sign", action="store_true", help="GPG-sign the tag (git tag -s)")
    p.set_defaults(func=_release)
    return p


def _lint_parser(settings: ReleaseSettings) -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="release lint-commits",
        description="Check the commit messages of a range against Conventional Commits.",
    )
    add_option(p, "--log-level", settings, "log_level")
    p.add_argument("range", help="A..B (a single ref means <ref>..HEAD)")
    p.add_argument("--repo", default=".")
    p.add_argument("--subject", action="append", help="an extra header to check, e.g. the PR title")
    p.add_argument("--types", help=f"allowed types (default: {','.join(DEFAULT_TYPES)})")
    p.add_argument("--scopes", help="allowed scopes, comma-separated (default: any)")
    p.add_argument("--max-header-length", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_lint, github_actions=settings.github_actions)
    return p


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["lint-commits"]:
        return run("release lint-commits", argv[1:], _lint_parser, ReleaseSettings)
    return run("release", argv, _release_parser, ReleaseSettings)


if __name__ == "__main__":
    sys.exit(main())
