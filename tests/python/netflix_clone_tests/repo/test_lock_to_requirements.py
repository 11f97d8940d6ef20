from __future__ import annotations

from pathlib import Path

import pytest
from lock_to_requirements import locked_requirements


def test_the_real_lockfile_exports_one_pin_per_package() -> None:
    pins = locked_requirements(Path("3rdparty/python/python-default.lock").read_text(encoding="utf-8"))
    names = [p.split("==")[0].lower() for p in pins]
    assert len(names) == len(set(names)) > 50
    assert any(p.startswith("numpy==") for p in pins)
    assert all("==" in p for p in pins)


def test_an_empty_lock_is_an_error() -> None:
    with pytest.raises(ValueError, match="pins no requirements"):
        locked_requirements('// header\n{"locked_resolves": [{"locked_requirements": []}]}')
