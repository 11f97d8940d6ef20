"""Contract fuzzing: schemathesis generates requests (valid and invalid) from the OpenAPI document the
running server serves, and checks every answer: no 5xx, a documented status code and content type, a
body that matches the route's response model. Examples per operation are bounded to keep this short."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from netflix_clone.recommendation_service.serving.model_holder import ModelHolder

from .helpers import train_small
from .test_http_resilience import Server


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("models")
    train_small(root, seed=71)
    holder = ModelHolder(root)
    holder.reload_if_changed()
    server = Server(holder)
    with server:
        yield f"http://127.0.0.1:{server.port}"


@pytest.fixture(scope="module")
def api_schema(served: str):
    return schemathesis.openapi.from_url(f"{served}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_route_keeps_its_contract(case) -> None:
    case.call_and_validate(timeout=10)


def test_the_served_document_declares_a_response_model_everywhere(served: str) -> None:
    import httpx

    document = httpx.get(f"{served}/openapi.json").json()
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            ok = operation["responses"]["200"]["content"]
            schema_of = next(iter(ok.values())).get("schema", {})
            assert schema_of, f"{method.upper()} {path} has no response schema"
            if path.startswith("/v1/"):
                assert {"413", "422", "503"} <= set(operation["responses"]), (method, path)


def test_the_server_answers(served: str) -> None:
    import httpx

    assert httpx.get(f"{served}/healthz").json() == {"status": "ok"}
