"""The README's tables of environment variables and exit codes are the code's: each block between its
markers must equal what the settings classes and the exit-code enum render, and every settings class
in the tree has its block. A failure prints the exact block to paste."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from netflix_clone.platform.errors import EXIT_CODE_TABLE
from netflix_clone.platform.settings import env_table

README = Path("README.md")
SOURCES = Path("src/python")
ENV_BLOCK = re.compile(r"<!-- env-table: ([\w.]+) -->\n(.*?)\n<!-- /env-table -->", re.S)
EXIT_BLOCK = re.compile(r"<!-- exit-codes -->\n(.*?)\n<!-- /exit-codes -->", re.S)


def _readme() -> str:
    return README.read_text(encoding="utf-8")


def _settings_classes() -> list[str]:
    """``module.Class`` of every ServiceSettings subclass declared in a service's settings module."""
    found = []
    for path in sorted(SOURCES.glob("netflix_clone/*/settings.py")):
        if path.parent.name == "platform":
            continue
        module = ".".join(path.with_suffix("").relative_to(SOURCES).parts)
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) and any(
                isinstance(b, ast.Name) and b.id == "ServiceSettings" for b in node.bases
            ):
                found.append(f"{module}.{node.name}")
    return found


def _render(qualified: str) -> str:
    module, _, name = qualified.rpartition(".")
    return str(env_table(getattr(importlib.import_module(module), name)))


def test_there_are_tables_to_check() -> None:
    assert len(_settings_classes()) >= 2 and ENV_BLOCK.search(_readme()) and EXIT_BLOCK.search(_readme())


def test_the_exit_code_table_is_the_enum() -> None:
    blocks = EXIT_BLOCK.findall(_readme())
    assert len(blocks) == 1
    assert blocks[0] == EXIT_CODE_TABLE, f"README exit-code table is stale; paste:\n{EXIT_CODE_TABLE}"


@pytest.mark.parametrize("qualified", _settings_classes())
def test_every_settings_class_has_its_table_and_it_is_current(qualified: str) -> None:
    blocks = dict(ENV_BLOCK.findall(_readme()))
    expected = _render(qualified)
    assert (
        qualified in blocks
    ), f"README has no table for {qualified}; paste:\n<!-- env-table: {qualified} -->\n{expected}\n<!-- /env-table -->"
    assert blocks[qualified] == expected, f"README table of {qualified} is stale; paste:\n{expected}"


def test_no_table_names_a_class_that_does_not_exist() -> None:
    assert set(dict(ENV_BLOCK.findall(_readme()))) <= set(_settings_classes())
