"""The instruction-count benchmark for real, under valgrind: counts repeat exactly, a planted slowdown
shows as itself, and a missing toggle symbol is a clear error rather than a zero."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import benchmark_instructions

pytestmark = pytest.mark.skipif(shutil.which("valgrind") is None, reason="needs valgrind")


def _per_op(tmp_path: Path, name: str, *extra: str) -> dict:
    out = tmp_path / f"{name}.json"
    argv = ["--kernels", "qoe_session,decode_sessionize", "--out", str(out), *extra]
    assert benchmark_instructions.main(argv) == 0
    return dict(json.loads(out.read_text())["metrics"]["kernels"])


def test_counts_repeat_exactly_and_a_planted_slowdown_shows_as_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = _per_op(tmp_path, "plain", "--repeats", "2")
    assert set(plain) == {"qoe_session", "decode_sessionize"}
    for kernel in plain.values():
        first, second = kernel["repeats"]
        assert first == second  # not merely close: the same count
        assert kernel["per_op"] > 1_000  # really counted (a toggle that never fired gives 0)
    monkeypatch.setenv("NFC_BENCH_PLANTED_SLOWDOWN", "0.15")
    planted = _per_op(tmp_path, "planted", "--repeats", "1")
    for name, kernel in planted.items():
        # 3 more calls of identical work on top of 20: +15 % within the loop's own few instructions.
        assert kernel["per_op"] / plain[name]["per_op"] == pytest.approx(1.15, abs=0.005)


def test_a_missing_toggle_symbol_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(benchmark_instructions, "TOGGLE", "no_such_function_in_python")
    with pytest.raises(RuntimeError, match="found 0"):
        _per_op(tmp_path, "broken", "--repeats", "1")
