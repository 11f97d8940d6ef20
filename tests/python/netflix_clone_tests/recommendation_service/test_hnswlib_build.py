"""hnswlib is built from its sdist with -march=native; pants.toml strips AVX-512 from that build.

A wheel with AVX-512 instructions, built on this AVX-512 machine, would crash with SIGILL on an ECS host
without AVX-512 and under valgrind (the instruction-count benchmark). This looks at the machine code.
"""

from __future__ import annotations

import shutil
import subprocess  # nosec B404 - objdump on an installed module
from pathlib import Path

import hnswlib
import pytest


@pytest.mark.skipif(shutil.which("objdump") is None, reason="needs binutils' objdump")
def test_the_hnswlib_extension_uses_no_avx512_registers() -> None:
    module = Path(hnswlib.__file__)
    assert module.suffix == ".so"
    listing = subprocess.run(  # nosec B603 B607 - fixed tool, installed file
        ["objdump", "-d", "--no-show-raw-insn", str(module)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    instructions = [line for line in listing.splitlines() if "\t" in line]
    assert len(instructions) > 10_000  # really disassembled
    assert not [line for line in instructions if "%zmm" in line or "%k1" in line][:5]
    assert any("%ymm" in line for line in instructions)  # AVX2 kept: distances stay vectorized
