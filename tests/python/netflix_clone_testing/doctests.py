"""Run the worked examples in a package's docstrings, so they cannot drift from the code."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def modules_of(package: str) -> list[str]:
    """Every module of ``package`` (recursively), by dotted name."""
    pkg = importlib.import_module(package)
    names = [package]
    names += [m.name for m in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}.")]
    return sorted(names)


def run_module(name: str) -> doctest.TestResults:
    return doctest.testmod(importlib.import_module(name), optionflags=FLAGS, verbose=False)
