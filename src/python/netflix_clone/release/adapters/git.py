"""The git commands a release needs, run in one repository (``git -C``), nothing cached."""

from __future__ import annotations

import os
import shutil
import subprocess  # nosec B404 - fixed git commands, arguments never go through a shell
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from netflix_clone.release.domain.commits import RawCommit
from netflix_clone.release.domain.versions import Version, parse_tag
from netflix_clone.release.errors import GitError

__all__ = ["Git", "GitError", "Tag"]

_RECORD, _FIELD = "\x1e", "\x1f"


@dataclass(frozen=True)
class Tag:
    name: str
    version: Version
    sha: str  # the commit it points at


class Git:
    def __init__(self, repo: Path, git: Optional[str] = None, timeout_s: float = 120.0) -> None:
        self.repo = Path(repo)
        self.git = git or shutil.which("git") or "/usr/bin/git"
        self.timeout_s = timeout_s

    def run(self, *args: str, stdin: Optional[str] = None) -> str:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
        try:
            result = subprocess.run(  # nosec B603 - argv list, fixed executable
                [self.git, "-C", str(self.repo), *args],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
                check=False,
                env=env,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise GitError(f"git {' '.join(args[:2])} failed: {exc}") from exc
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise GitError(f"git {' '.join(args)}: {detail[-1] if detail else f'exit {result.returncode}'}")
        return result.stdout

    def toplevel(self) -> Path:
        return Path(self.run("rev-parse", "--show-toplevel").strip())

    def head(self) -> str:
        return self.run("rev-parse", "--verify", "HEAD^{commit}").strip()

    def resolve(self, ref: str) -> str:
        return self.run("rev-parse", "--verify", "--end-of-options", f"{ref}^{{commit}}").strip()

    def branch(self) -> Optional[str]:
        """The checked-out branch, None when HEAD is detached."""
        out = subprocess.run(  # nosec B603
            [self.git, "-C", str(self.repo), "symbolic-ref", "--quiet", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=self.timeout_s,
            check=False,
        )
        if out.returncode != 0:
            return None
        return out.stdout.strip() or None

    def dirty(self) -> list[str]:
        """``git status --porcelain`` lines: modified, staged and untracked (not ignored) paths."""
        return [line for line in self.run("status", "--porcelain").splitlines() if line.strip()]

    def tags(self, merged_into: Optional[str] = None, pattern: str = "v*") -> list[Tag]:
        """Release tags (those that parse as ``v<semver>``), optionally only those reachable from a ref."""
        args = [
            "tag",
            "--list",
            pattern,
            "--format=%(refname:strip=2)%1f%(*objectname)%1f%(objectname)",
        ]
        if merged_into:
            args.insert(1, f"--merged={merged_into}")
        tags = []
        for line in self.run(*args).splitlines():
            name, peeled, obj = (line.split(_FIELD) + ["", ""])[:3]
            version = parse_tag(name)
            if version is not None:
                tags.append(Tag(name, version, peeled or obj))
        return tags

    def tags_at(self, ref: str = "HEAD") -> list[str]:
        return self.run("tag", "--points-at", ref).split()

    def tag_exists(self, name: str) -> bool:
        try:
            self.run("rev-parse", "--verify", "--quiet", f"refs/tags/{name}")
        except GitError:
            return False
        return True

    def commits(self, revision_range: str) -> list[RawCommit]:
        """Commits of ``revision_range`` (anything ``git log`` takes), oldest first, with changed paths.

        Renames are listed as their old and new paths (``--no-renames``): both sides are touched.
        """
        out = self.run(
            "log",
            "--reverse",
            "--no-renames",
            "--name-only",
            f"--format={_RECORD}%H{_FIELD}%P{_FIELD}%B{_FIELD}",
            revision_range,
            "--",
        )
        commits = []
        for record in out.split(_RECORD)[1:]:
            sha, parents, message, files = (record.split(_FIELD) + ["", "", ""])[:4]
            commits.append(
                RawCommit(
                    sha=sha.strip(),
                    message=message.strip("\n"),
                    parents=tuple(parents.split()),
                    files=tuple(f for f in files.strip().splitlines() if f.strip()),
                )
            )
        return commits

    def paths_at(self, ref: str = "HEAD") -> set[str]:
        return set(self.run("ls-tree", "-r", "--name-only", ref).splitlines())

    def create_annotated_tag(self, name: str, message: str, ref: str = "HEAD", sign: bool = False) -> None:
        # --cleanup=verbatim: the default `strip` would drop every Markdown heading ("## ...") as a comment.
        self.run(
            "tag",
            "-s" if sign else "-a",
            "--cleanup=verbatim",
            "-F",
            "-",
            name,
            ref,
            stdin=message,
        )

    def tag_message(self, name: str) -> str:
        return self.run("tag", "--list", "--format=%(contents)", name)
