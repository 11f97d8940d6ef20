"""The compose stack, the image Dockerfiles and the secrets baseline agree with the code they ship."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


def _load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path} is not a YAML mapping"
    return data


def test_compose_stack_wires_services_through_their_settings() -> None:
    compose = _load(Path("docker/docker-compose.yml"))
    services = compose["services"]
    assert set(services) == {
        "postgres",
        "redis",
        "cassandra",
        "video-processor",
        "analytics-consumer",
        "recommendation-service",
    }
    sources = {
        "video-processor": "video_processor",
        "analytics-consumer": "analytics_consumer",
        "recommendation-service": "recommendation_service",
    }
    for name, package in sources.items():
        service = services[name]
        assert service["image"].startswith(f"netflix-clone/{name}:")
        dockerfile = Path(f"docker/{name}/Dockerfile").read_text(encoding="utf-8")
        assert f"netflix_clone.{package}/{name}.pex" in dockerfile and "USER 10001" in dockerfile
        assert "HEALTHCHECK" in dockerfile and "org.opencontainers.image.revision" in dockerfile
        code = "\n".join(
            p.read_text(encoding="utf-8") for p in Path(f"src/python/netflix_clone/{package}").rglob("*.py")
        )
        for variable in service["environment"]:
            if variable == "NFC_LOG_LEVEL" and name != "video-processor":
                continue
            short = variable.removeprefix("NFC_VIDEO_")
            assert variable in code or f'_env("{short}"' in code, f"{name} does not read {variable}"


def test_secrets_baseline_is_audited() -> None:
    baseline = json.loads(Path(".secrets.baseline").read_text(encoding="utf-8"))
    findings = [item for items in baseline["results"].values() for item in items]
    assert findings, "an empty baseline would not show the scan ran"
    assert all(item.get("is_secret") is False for item in findings), "unaudited or real secrets in the baseline"
