"""recommendation-service's docstring examples run as tests (a wrong example is a failing test)."""

from __future__ import annotations

import pytest

from netflix_clone_testing.doctests import modules_of, run_module

MODULES = modules_of("netflix_clone.recommendation_service")
DOMAIN = [name for name in MODULES if ".domain" in name]


def test_the_examples_exist() -> None:
    assert sum(run_module(name).attempted for name in DOMAIN) >= 5, f"too few examples in {DOMAIN}"
    assert sum(run_module(name).attempted for name in MODULES) >= 10


@pytest.mark.parametrize("module", MODULES)
def test_examples(module: str) -> None:
    result = run_module(module)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {module} failed (see above)"
