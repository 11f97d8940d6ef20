"""Shared benchmark plumbing: pinned threads, warm-up, percentiles with bootstrap intervals, environment.

Benchmarks report; they never assert wall-clock limits (the machine is shared and noisy).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess  # nosec B404 - fixed git command
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any, Optional

# One thread per request: pin BLAS/OpenMP before numpy is imported anywhere.
PINNED_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
for _var in PINNED_THREADS:
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  # pylint: disable=wrong-import-position
import numpy.typing as npt  # noqa: E402  # pylint: disable=wrong-import-position

__all__ = [
    "environment",
    "percentiles",
    "plant_cpu",
    "planted_slowdown",
    "time_calls",
    "time_once",
    "write_report",
]

SCHEMA_VERSION = 1


PLANTED_SLOWDOWN = "NFC_BENCH_PLANTED_SLOWDOWN"


def planted_slowdown() -> float:
    """NFC_BENCH_PLANTED_SLOWDOWN=0.15 makes every timed call 15 % slower (real CPU work), to prove the
    regression check catches what it should. Never set in CI."""
    return float(os.environ.get(PLANTED_SLOWDOWN, "0") or 0)


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def time_once(fn: Callable[[], object]) -> float:
    """Seconds for one call of `fn` (a whole batch, a whole pass), planted slowdown included."""
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    slowdown = planted_slowdown()
    if slowdown:
        _spin(elapsed * slowdown)
    return time.perf_counter() - start


def plant_cpu(cpu_seconds: float) -> None:
    """Burn the planted share of `cpu_seconds` (for metrics measured in CPU time, not per call)."""
    slowdown = planted_slowdown()
    if slowdown:
        end = time.process_time() + cpu_seconds * slowdown
        while time.process_time() < end:
            pass


def time_calls(fn: Callable[[], object], *, repeat: int, warmup: int = 100) -> npt.NDArray[np.float64]:
    """Seconds per call for `repeat` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    samples = np.empty(repeat, dtype=np.float64)
    now = time.perf_counter
    slowdown = planted_slowdown()
    for i in range(repeat):
        start = now()
        fn()
        if slowdown:
            _spin((now() - start) * slowdown)
        samples[i] = now() - start
    return samples


def percentiles(
    samples: Sequence[float] | npt.NDArray[np.float64],
    qs: Sequence[float] = (50, 99),
    *,
    boot: int = 200,
    seed: int = 0,
    blocks: int = 10,
) -> dict[str, Any]:
    """Percentiles with 95 % bootstrap confidence intervals, and per-block percentiles.

    `pXX_blocks` holds the percentile of each of `blocks` consecutive slices of the samples: repeated
    measurements of the metric itself, which the regression check compares between runs with a rank
    test (a single number per run cannot tell a shift from noise).
    """
    data = np.asarray(samples, dtype=np.float64)
    if data.size == 0:
        raise ValueError("no samples")
    rng = np.random.default_rng(seed)
    resamples = rng.choice(data, size=(boot, data.size), replace=True)
    out: dict[str, Any] = {"n": int(data.size), "mean": float(data.mean())}
    slices = np.array_split(data, blocks) if data.size >= 20 * blocks else [data]
    for q in qs:
        estimates = np.percentile(resamples, q, axis=1)
        out[f"p{q:g}"] = float(np.percentile(data, q))
        out[f"p{q:g}_ci95"] = [
            float(np.percentile(estimates, 2.5)),
            float(np.percentile(estimates, 97.5)),
        ]
        out[f"p{q:g}_blocks"] = [float(np.percentile(chunk, q)) for chunk in slices]
    return out


def _git_revision() -> Optional[str]:
    try:
        return subprocess.run(  # nosec B603 B607 - fixed command, no user input
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return os.environ.get("GITHUB_SHA")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment(packages: Sequence[str] = ()) -> dict[str, Any]:
    versions: dict[str, Optional[str]] = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "git_revision": _git_revision(),
        "packages": versions,
        "threads": {v: os.environ.get(v) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")},
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_report(name: str, metrics: dict[str, Any], env: dict[str, Any], out: Optional[str]) -> dict[str, Any]:
    report = {
        "schema_version": SCHEMA_VERSION,
        "benchmark": name,
        "environment": env,
        "metrics": metrics,
    }
    text = json.dumps(report, indent=2, sort_keys=True)
    if out:
        with open(out, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    print(text)
    return report
