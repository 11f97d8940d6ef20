"""Scratch git repositories with a scripted history, and a stand-in `pants` that answers the three
questions the release asks (images, each image's files, images changed since a tag)."""

from __future__ import annotations

import os
import shutil
import subprocess  # nosec B404 - git on a scratch repository
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

GIT = shutil.which("git") or "/usr/bin/git"

# Two services and a shared package, laid out like this repository.
LAYOUT = {
    "README.md": "# scratch\n",
    "docker/api/Dockerfile": "FROM scratch\n",
    "docker/worker/Dockerfile": "FROM scratch\n",
    "src/python/netflix_clone/api/app.py": "VERSION = 1\n",
    "src/python/netflix_clone/worker/job.py": "RETRIES = 0\n",
    "src/python/netflix_clone/platform/util.py": "CONFIG = 'file'\n",
}
CLOSURES = {
    "api": [
        "docker/api/Dockerfile",
        "src/python/netflix_clone/api/app.py",
        "src/python/netflix_clone/platform/util.py",
    ],
    "worker": [
        "docker/worker/Dockerfile",
        "src/python/netflix_clone/worker/job.py",
        "src/python/netflix_clone/platform/util.py",
    ],
}


def git_env(home: Path) -> dict[str, str]:
    return {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Release Test",
        "GIT_AUTHOR_EMAIL": "release@example.com",
        "GIT_COMMITTER_NAME": "Release Test",
        "GIT_COMMITTER_EMAIL": "release@example.com",
    }


@dataclass
class Repo:
    path: Path
    env: dict[str, str]

    def git(self, *args: str) -> str:
        result = subprocess.run(  # nosec B603
            [GIT, "-C", str(self.path), *args],
            capture_output=True,
            text=True,
            check=True,
            env=self.env,
            timeout=60,
        )
        return result.stdout.strip()

    def commit(self, message: str, files: Optional[dict[str, str]] = None) -> str:
        """Commit ``message``, appending each ``files`` content to its path first; returns the sha."""
        for name, content in (files or {}).items():
            path = self.path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(content)
            self.git("add", name)
        self.git("commit", "--allow-empty", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def tags(self) -> list[str]:
        return self.git("tag", "--list").split()


def make_repo(root: Path) -> Repo:
    path = root / "repo"
    path.mkdir()
    repo = Repo(path, git_env(root))
    repo.git("init", "-q", "-b", "main")
    for name, content in LAYOUT.items():
        file = path / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(content, encoding="utf-8")
    repo.git("add", ".")
    repo.git("commit", "-q", "-m", "chore: initial layout")
    return repo


def fake_pants(root: Path, changed: str = "docker/api:api\ndocker/worker:worker") -> tuple[Path, Path]:
    """An executable answering like ``./pants`` for the release's three invocations; returns
    (script, log of the argument lists it was called with)."""
    log = root / "pants-calls.log"
    changed_lines = changed.replace("\n", "\\n")
    script = root / "fake-pants"
    cases = "\n".join(
        f'  "filedeps --transitive docker/{image}:{image}") printf \'%s\\n\' {" ".join(files)} ;;'
        for image, files in CLOSURES.items()
    )
    script.write_text(
        f"""#!/bin/sh
echo "$*" >> "{log}"
case "$*" in
  "list --filter-target-type=docker_image ::") printf 'docker/api:api\\ndocker/worker:worker\\n' ;;
{cases}
  --changed-since=*" --changed-dependents=transitive --filter-target-type=docker_image list")
    printf '{changed_lines}\\n' ;;
  *) echo "fake pants: unexpected arguments: $*" >&2; exit 2 ;;
esac
""",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script, log
