"""analytics-consumer's docstring examples run as tests (a wrong example is a failing test)."""

from __future__ import annotations

import pytest

from netflix_clone_testing.doctests import modules_of, run_module

MODULES = modules_of("netflix_clone.analytics_consumer")


def test_the_examples_exist() -> None:
    attempted = sum(run_module(name).attempted for name in MODULES)
    assert attempted >= 10, f"only {attempted} examples in {MODULES}"


@pytest.mark.parametrize("module", MODULES)
def test_examples(module: str) -> None:
    result = run_module(module)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {module} failed (see above)"
