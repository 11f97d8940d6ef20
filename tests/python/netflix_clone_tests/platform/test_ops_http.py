from __future__ import annotations

import json
import urllib.error
import urllib.request

from prometheus_client import CollectorRegistry, Counter

from netflix_clone.platform.ops_http import HealthChecks, OpsServer


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - loopback test server
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read().decode()


def test_health_readiness_and_metrics_over_http() -> None:
    registry = CollectorRegistry()
    events = Counter("unit_events_total", "events seen", registry=registry)
    events.inc(5)
    checks = HealthChecks()
    healthy = {"db": True}

    def db_check() -> None:
        if not healthy["db"]:
            raise ConnectionError("db down")

    checks.register("db", db_check)
    with OpsServer(checks, registry=registry) as server:
        status, _, body = _get(f"{server.url}/healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"

        status, _, body = _get(f"{server.url}/readyz")
        assert status == 200 and json.loads(body) == {"status": "ready", "checks": {"db": "ok"}}

        healthy["db"] = False
        status, _, body = _get(f"{server.url}/readyz")
        assert status == 503
        assert json.loads(body)["checks"]["db"] == "failing: ConnectionError: db down"

        status, content_type, body = _get(f"{server.url}/metrics")
        assert status == 200 and content_type.startswith("text/plain")
        assert "unit_events_total 5.0" in body

        status, _, body = _get(f"{server.url}/nope")
        assert status == 404 and "no such endpoint: /nope" in body
