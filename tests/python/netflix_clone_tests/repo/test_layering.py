"""Layer rules: domain code imports no I/O, and no service imports another service's modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path("src/python/netflix_clone")
SHARED = {"platform", "contracts"}
# Composition roots wire services together, through each service's public command line only.
COMPOSITION = {"quickstart"}
IO_MODULES = {
    "asyncio",
    "boto3",
    "botocore",
    "cassandra",
    "fastapi",
    "http",
    "httpx",
    "imageio_ffmpeg",
    "io",
    "os",
    "pathlib",
    "psycopg2",
    "pyarrow",
    "redis",
    "requests",
    "shutil",
    "socket",
    "sqlite3",
    "subprocess",
    "tempfile",
    "threading",
    "urllib",
    "uvicorn",
    "av",
}
SERVICES = sorted(
    p.name for p in ROOT.iterdir() if p.is_dir() and p.name not in SHARED | COMPOSITION and not p.name.startswith("_")
)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_there_is_something_to_check() -> None:
    assert "recommendation_service" in SERVICES
    assert list(ROOT.glob("*/domain/*.py"))


@pytest.mark.parametrize("path", sorted(ROOT.glob("*/domain/*.py")), ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_domain_modules_do_no_io(path: Path) -> None:
    service = path.parent.parent.name
    for name in _imports(path):
        top = name.split(".")[0]
        assert top not in IO_MODULES, f"{path.name} imports {name}: domain code must stay free of I/O"
        if top == "netflix_clone":
            allowed = (f"netflix_clone.{service}.domain", "netflix_clone.contracts")
            assert name.startswith(allowed), f"{path.name} imports {name} from outside its domain"


@pytest.mark.parametrize("service", SERVICES)
def test_services_do_not_import_each_other(service: str) -> None:
    others = [s for s in SERVICES if s != service]
    for path in (ROOT / service).rglob("*.py"):
        for name in _imports(path):
            for other in others:
                assert not name.startswith(f"netflix_clone.{other}"), (
                    f"{path.relative_to(ROOT)} imports {name}: share code through netflix_clone.contracts "
                    "or netflix_clone.platform instead"
                )


@pytest.mark.parametrize("root", sorted(COMPOSITION))
def test_composition_roots_use_only_public_entry_points(root: str) -> None:
    public = {f"netflix_clone.{service}.cli" for service in SERVICES}
    for path in (ROOT / root).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            used: list[str] = []
            if isinstance(node, ast.Import):
                used = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                used = [f"{node.module}.{alias.name}" for alias in node.names]
            for name in used:
                if any(name.startswith(f"netflix_clone.{service}") for service in SERVICES):
                    assert name in public, (
                        f"{path.relative_to(ROOT)} uses {name}: a composition root may use only a "
                        "service's `cli` module"
                    )


def test_there_is_a_composition_root_to_check() -> None:
    assert list((ROOT / "quickstart").glob("*.py"))
