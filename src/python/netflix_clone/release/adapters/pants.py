"""Asks Pants which service images exist, what each is built from, and which change since a tag.

Three kinds of invocation, each one process (pantsd makes the second and later ones cheap):

* ``./pants list --filter-target-type=docker_image ::`` - the images (a target's name is its service);
* ``./pants filedeps --transitive <image>`` - the files an image is built from, once per image;
* ``./pants --changed-since=<tag> --changed-dependents=transitive --filter-target-type=docker_image list``
  - the images a release changes, exactly as CI computes affected images.
"""

from __future__ import annotations

import os
import subprocess  # nosec B404 - runs the repository's own ./pants, argv lists only
from pathlib import Path
from typing import Sequence

from netflix_clone.release.errors import PantsUnavailable

__all__ = ["Pants", "PantsUnavailable", "image_dirs"]


class Pants:
    def __init__(self, repo: Path, command: Sequence[str] = ("./pants",), timeout_s: float = 900.0) -> None:
        self.repo = Path(repo)
        self.command = list(command)
        self.timeout_s = timeout_s

    def _run(self, *args: str) -> list[str]:
        executable = self.command[0]
        if "/" in executable and not (self.repo / executable).exists() and not Path(executable).exists():
            raise PantsUnavailable(f"{executable} not found in {self.repo}")
        # The pex this runs from must not leak its own interpreter settings into Pants.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PEX_", "_PEX_"))}
        env.setdefault("NO_SCIE_WARNING", "1")
        try:
            result = subprocess.run(  # nosec B603
                [*self.command, *args],
                cwd=self.repo,
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
                check=False,
                env=env,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PantsUnavailable(f"{' '.join(self.command)} could not run: {exc}") from exc
        if result.returncode != 0:
            lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
            raise PantsUnavailable(
                f"`{' '.join([*self.command, *args])}` exited {result.returncode}"
                + (f": {lines[-1].strip()}" if lines else "")
            )
        return [line.strip() for line in result.stdout.splitlines() if line.strip()]

    def images(self) -> dict[str, str]:
        """Service name -> docker_image address."""
        addresses = self._run("list", "--filter-target-type=docker_image", "::")
        return {address.rsplit(":", 1)[-1]: address for address in addresses}

    def closure(self, address: str) -> set[str]:
        return set(self._run("filedeps", "--transitive", address))

    def changed_images(self, since: str) -> list[str]:
        addresses = self._run(
            f"--changed-since={since}",
            "--changed-dependents=transitive",
            "--filter-target-type=docker_image",
            "list",
        )
        return sorted(address.rsplit(":", 1)[-1] for address in addresses)


def image_dirs(repo: Path) -> list[str]:
    """Services by directory (``docker/<service>/Dockerfile``): the images when Pants cannot say."""
    root = Path(repo) / "docker"
    return sorted(p.parent.name for p in root.glob("*/Dockerfile")) if root.is_dir() else []
