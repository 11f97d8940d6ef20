"""HTTP smoke and acceptance checks against a deployment, with retries for cold starts."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from netflix_clone.platform.retry import retry_call

__all__ = ["CheckResult", "parse_check", "run_checks"]


@dataclass(frozen=True)
class CheckResult:
    check: str
    ok: bool
    status: int
    detail: str
    seconds: float

    def as_dict(self) -> dict[str, object]:
        return {
            "check": self.check,
            "ok": self.ok,
            "status": self.status,
            "detail": self.detail,
            "seconds": round(self.seconds, 3),
        }


def parse_check(spec: str) -> tuple[str, str, int]:
    """``"GET /healthz 200"`` / ``"/healthz"`` -> (method, path, expected status)."""
    parts = spec.split()
    if len(parts) == 1:
        return "GET", parts[0], 200
    if len(parts) == 2:
        return parts[0].upper(), parts[1], 200
    return parts[0].upper(), parts[1], int(parts[2])


def run_checks(
    base_url: str,
    checks: list[str],
    attempts: int = 3,
    timeout_s: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[CheckResult]:
    results = []
    with httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s) as client:
        for spec in checks:
            method, path, expected = parse_check(spec)
            started = time.perf_counter()

            def once(method: str = method, path: str = path) -> tuple[int, str]:
                try:
                    response = client.request(method, path)
                except httpx.HTTPError as exc:
                    return 0, f"{type(exc).__name__}: {exc}"
                return response.status_code, response.text[:200]

            def unexpected(answer: tuple[int, str], expected: int = expected) -> bool:
                return answer[0] != expected

            status, detail = retry_call(
                once,
                what=f"check {spec}",
                attempts=attempts,
                base_delay=1.0,
                max_delay=float(attempts),
                jitter=False,
                retry_on=(),
                retry_result=unexpected,
                sleep=sleep,
            )
            results.append(CheckResult(spec, status == expected, status, detail, time.perf_counter() - started))
    return results
