"""The service's own layering: adapters do one I/O concern each and import no application module
(training, serving, the CLI); domain modules read no clock, randomness or logs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import netflix_clone.recommendation_service as service

ROOT = Path(service.__file__).parent
PKG = "netflix_clone.recommendation_service"
ADAPTER_MAY_IMPORT = (
    f"{PKG}.adapters",
    f"{PKG}.domain",
    f"{PKG}.errors",
    "netflix_clone.platform",
    "netflix_clone.contracts",
)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "adapters").glob("*.py")), ids=lambda p: p.name)
def test_adapters_import_no_application_module(path: Path) -> None:
    for name in _imports(path):
        if name.startswith("netflix_clone"):
            assert name.startswith(ADAPTER_MAY_IMPORT), f"adapters/{path.name} imports {name}"


@pytest.mark.parametrize("path", sorted((ROOT / "domain").glob("*.py")), ids=lambda p: p.name)
def test_domain_reads_no_clock_randomness_or_logs(path: Path) -> None:
    for name in _imports(path):
        assert name.split(".")[0] not in {
            "time",
            "datetime",
            "logging",
            "random",
            "secrets",
        }, f"domain/{path.name} imports {name}: inject the clock or rng instead"


def test_no_module_is_long_without_a_reason() -> None:
    for path in ROOT.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 400:
            assert "Long module:" in text, f"{path.relative_to(ROOT)} has {text.count(chr(10))} lines and no reason"
