"""Layer rules: domain code imports no I/O and no clock, logger or randomness (they are injected); no
service imports another service's modules or the test tools; long modules say why they are long."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path("src/python/netflix_clone")
SHARED = {"platform", "contracts"}
# Composition roots wire services together, through each service's public command line only.
COMPOSITION = {"quickstart"}
# Simulators, crash checks and rehearsal rigs: they may drive any service; no service may import them.
TOOLS = {"tools"}
# Wall clock, logging and randomness are effects too: domain code receives a clock or an rng.
EFFECT_MODULES = {"time", "datetime", "logging", "random"}
MAX_LINES = 400
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
} | EFFECT_MODULES
SERVICES = sorted(
    p.name
    for p in ROOT.iterdir()
    if p.is_dir() and p.name not in SHARED | COMPOSITION | TOOLS and not p.name.startswith("_")
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
            allowed = (
                f"netflix_clone.{service}.domain",
                f"netflix_clone.{service}.errors",
                "netflix_clone.platform.errors",
                "netflix_clone.contracts",
            )
            assert name.startswith(allowed), f"{path.name} imports {name} from outside its domain"


@pytest.mark.parametrize("service", SERVICES)
def test_services_do_not_import_each_other(service: str) -> None:
    others = [s for s in SERVICES if s != service] + sorted(TOOLS)
    for path in (ROOT / service).rglob("*.py"):
        for name in _imports(path):
            for other in others:
                assert not name.startswith(f"netflix_clone.{other}"), (
                    f"{path.relative_to(ROOT)} imports {name}: share code through netflix_clone.contracts "
                    "or netflix_clone.platform instead"
                )


@pytest.mark.parametrize("root", sorted(COMPOSITION))
def test_composition_roots_use_only_public_entry_points(root: str) -> None:
    public = {f"netflix_clone.{service}.cli" for service in SERVICES} | {
        f"netflix_clone.tools.{tool.name}.cli" for tool in (ROOT / "tools").iterdir() if tool.is_dir()
    }
    for path in (ROOT / root).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            used: list[str] = []
            if isinstance(node, ast.Import):
                used = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                used = [f"{node.module}.{alias.name}" for alias in node.names]
            for name in used:
                if any(name.startswith(f"netflix_clone.{service}") for service in [*SERVICES, *TOOLS]):
                    assert name in public, (
                        f"{path.relative_to(ROOT)} uses {name}: a composition root may use only a "
                        "service's `cli` module"
                    )


def test_there_is_a_composition_root_to_check() -> None:
    assert list((ROOT / "quickstart").glob("*.py"))


def _docstring(path: Path) -> str:
    return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""


@pytest.mark.parametrize("path", sorted(ROOT.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_long_modules_say_why(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    if lines > MAX_LINES:
        assert "Long module:" in _docstring(path), (
            f"{path.relative_to(ROOT)} has {lines} lines (> {MAX_LINES}): split it where its name misleads, "
            "or give the reason in a 'Long module:' line of its docstring"
        )


def test_the_rules_catch_what_they_forbid(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import time\nfrom datetime import datetime\nimport random as rng\n", encoding="utf-8")
    assert _imports(bad) & EFFECT_MODULES == {"time", "datetime", "random"}
    assert EFFECT_MODULES <= IO_MODULES
    long = tmp_path / "long.py"
    long.write_text('"""Short."""\n' + "x = 1\n" * (MAX_LINES + 1), encoding="utf-8")
    assert "Long module:" not in _docstring(long)
