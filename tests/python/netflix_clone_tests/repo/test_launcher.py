"""The ./pants launcher's failure messages name what is missing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

LAUNCHER = Path("pants").resolve()
REAL_VENV = Path.home() / ".cache/netflix-clone/bootstrap/venv-pants-2.17.1"


def _run(launcher: Path, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"HOME": str(home), "PATH": "/usr/bin:/bin", "PYENV_ROOT": str(home / "no-pyenv")}
    return subprocess.run(
        ["bash", str(launcher), "--version"],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_no_python39_is_named(tmp_path: Path) -> None:
    if any(Path(p).exists() for p in ("/usr/bin/python3.9", "/bin/python3.9")):
        pytest.skip("this machine has a system python3.9 on /usr/bin")
    result = _run(LAUNCHER, tmp_path)
    assert result.returncode == 1
    assert "no CPython 3.9 found" in result.stderr
    assert "PANTS_BOOTSTRAP_PYTHON" in result.stderr


def test_a_given_interpreter_that_is_missing_is_named(tmp_path: Path) -> None:
    result = _run(LAUNCHER, tmp_path, PANTS_BOOTSTRAP_PYTHON="/nonexistent/python3.9")
    assert result.returncode == 1
    assert "PANTS_BOOTSTRAP_PYTHON=/nonexistent/python3.9 is not executable" in result.stderr


def _python39() -> str:
    """A real CPython 3.9 binary (not a pyenv shim, which needs the real HOME)."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [
        *sorted(pyenv_root.glob("versions/3.9.*/bin/python3.9")),
        Path("/usr/bin/python3.9"),
    ]
    found = next((p for p in candidates if p.exists()), None)
    if found is None:
        pytest.skip("no CPython 3.9 on this machine")
    return str(found)


def test_no_network_to_pypi_is_named(tmp_path: Path) -> None:
    result = _run(
        LAUNCHER,
        tmp_path,
        PANTS_BOOTSTRAP_PYTHON=_python39(),
        PIP_INDEX_URL="http://127.0.0.1:9/simple",
        PIP_RETRIES="0",
        PIP_TIMEOUT="2",
    )
    assert result.returncode == 1
    assert "could not install pantsbuild.pants==2.17.1 from PyPI" in result.stderr


def test_a_checksum_mismatch_refuses_the_tool(tmp_path: Path) -> None:
    if not (REAL_VENV / ".bootstrap-complete").exists():
        pytest.skip("needs the bootstrapped Pants venv (./pants has not run on this machine)")
    tampered = tmp_path / "pants"
    text = LAUNCHER.read_text(encoding="utf-8")
    good = "de288fe624e5595b3e0c0796299458cc05fefde97fef49662cb35b0a033eee84"
    assert good in text
    tampered.write_text(text.replace(good, "0" * 64), encoding="utf-8")
    home = tmp_path / "home"
    bootstrap = home / ".cache/netflix-clone/bootstrap"
    bootstrap.mkdir(parents=True)
    (bootstrap / REAL_VENV.name).symlink_to(REAL_VENV)
    result = _run(tampered, home)
    assert result.returncode == 1, result.stderr
    assert f"checksum mismatch for pex 2.1.137: expected {'0' * 64}, got {good}" in result.stderr
    assert not (bootstrap / "tools/pex-v2.1.137").exists()
