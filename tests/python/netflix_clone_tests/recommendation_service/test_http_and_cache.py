"""The HTTP API on a real uvicorn server, the Redis top-N cache on the real Redis, hot reload under load."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import uvicorn

from netflix_clone.platform.connections import connect_redis
from netflix_clone.recommendation_service.adapters.topn_cache import TopNCache
from netflix_clone.recommendation_service.serving.http.app import create_app
from netflix_clone.recommendation_service.serving.model_holder import ModelHolder
from netflix_clone.recommendation_service.serving.warmup import warm_cache
from netflix_clone_testing.backends import RedisNamespace

from .helpers import train_small


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, holder: ModelHolder) -> None:
        self.port = _free_port()
        config = uvicorn.Config(create_app(holder), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)

    def __enter__(self) -> httpx.Client:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def model_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    train_small(root)
    return root


@pytest.fixture(scope="module")
def cache(redis_ns: RedisNamespace) -> TopNCache:
    return TopNCache(connect_redis(redis_ns.url), prefix=redis_ns.key("reco:"), ttl_s=120)


@pytest.fixture()
def api(model_root: Path) -> Iterator[tuple[httpx.Client, ModelHolder]]:
    holder = ModelHolder(model_root)
    holder.reload_if_changed()
    with Server(holder) as client:
        yield client, holder


def test_endpoints_answer_with_scores_lists_and_openapi(api) -> None:
    client, holder = api
    model = holder.current.model
    user, item = str(model.user_ids[0]), str(model.item_ids[0])
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["model_version"] == model.version
    score = client.get("/v1/score", params={"user": user, "item": item}).json()
    assert score["score"] == pytest.approx(holder.current.score(user, item), rel=1e-5)
    batch = client.post("/v1/scores", json={"user": user, "items": [item, str(model.item_ids[1])]}).json()
    assert set(batch["scores"]) == {item, str(model.item_ids[1])}
    pairs = client.post("/v1/scores/pairs", json={"pairs": [[user, item]]}).json()
    assert pairs["scores"][0] == pytest.approx(score["score"])
    recs = client.get(f"/v1/users/{user}/recommendations", params={"n": 7, "exclude": [item]}).json()
    assert len(recs["items"]) == 7 and recs["strategy"] == "als-exact" and recs["cached"] is False
    assert item not in [r["item"] for r in recs["items"]]
    cold = client.get("/v1/users/brand-new/recommendations").json()
    assert cold["strategy"] == "popularity" and len(cold["items"]) == 10
    similar = client.get(f"/v1/items/{item}/similar", params={"n": 3}).json()
    assert len(similar["items"]) == 3 and item not in [r["item"] for r in similar["items"]]
    assert client.get("/v1/model").json()["version"] == model.version
    assert "/v1/users/{user}/recommendations" in client.get("/openapi.json").json()["paths"]
    metrics = client.get("/metrics").text
    assert 'reco_request_seconds_bucket{endpoint="/v1/score"' in metrics


@pytest.mark.parametrize(
    "method, path, kwargs, status, message",
    [
        (
            "get",
            "/v1/score",
            {"params": {"user": "u000", "item": "nope"}},
            404,
            "unknown title 'nope'",
        ),
        (
            "get",
            "/v1/score",
            {"params": {"user": "nobody", "item": "t000"}},
            404,
            "unknown user 'nobody'",
        ),
        ("get", "/v1/score", {"params": {"user": "u000"}}, 422, "item"),
        (
            "get",
            "/v1/users/u000/recommendations",
            {"params": {"n": 0}},
            422,
            "greater than or equal to 1",
        ),
        (
            "get",
            "/v1/users/u000/recommendations",
            {"params": {"n": 501}},
            422,
            "less than or equal to 500",
        ),
        (
            "get",
            "/v1/users/u000/recommendations",
            {"params": {"diversity": 2}},
            422,
            "less than or equal to 1",
        ),
        ("get", "/v1/items/nope/similar", {}, 404, "unknown title 'nope'"),
        ("post", "/v1/scores", {"json": {"user": "u000", "items": []}}, 422, "at least 1 item"),
        (
            "post",
            "/v1/scores",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            422,
            "JSON",
        ),
    ],
)
def test_bad_input_gets_a_4xx_with_a_clear_message(api, method, path, kwargs, status, message) -> None:
    client, _ = api
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == status
    assert message in response.text


def test_not_ready_without_a_model(tmp_path: Path) -> None:
    holder = ModelHolder(tmp_path)
    assert not holder.reload_if_changed()
    with Server(holder) as client:
        response = client.get("/readyz")
        assert response.status_code == 503 and "CURRENT is missing" in response.text
        assert client.get("/v1/users/x/recommendations").status_code == 503


def test_redis_cache_hit_miss_and_invalidation_on_new_model(tmp_path: Path, cache: TopNCache) -> None:
    train_small(tmp_path, seed=1)
    holder = ModelHolder(tmp_path, cache=cache)
    holder.reload_if_changed()
    first_version = holder.current.version
    user = str(holder.current.model.user_ids[3])
    with Server(holder) as client:
        miss = client.get(f"/v1/users/{user}/recommendations").json()
        hit = client.get(f"/v1/users/{user}/recommendations").json()
        assert (miss["cached"], hit["cached"]) == (False, True)
        assert hit["items"] == miss["items"]
        assert client.get(f"/v1/users/{user}/recommendations", params={"n": 3}).json()["cached"] is False
        assert 'reco_topn_cache_total{result="hit"} 1.0' in client.get("/metrics").text

        old_keys = list(cache.client.scan_iter(match=f"{cache.prefix}topn:{first_version}:*"))
        assert len(old_keys) == 2
        assert 0 < cache.client.ttl(old_keys[0]) <= 120
        time.sleep(1.1)  # versions are timestamped to the second
        train_small(tmp_path, seed=2)
        assert holder.reload_if_changed()
        assert not list(cache.client.scan_iter(match=f"{cache.prefix}topn:{first_version}:*"))
        fresh = client.get(f"/v1/users/{user}/recommendations").json()
        assert fresh["cached"] is False and fresh["model_version"] == holder.current.version != first_version


def test_warm_cache_precomputes_the_most_active_users(model_root: Path, cache: TopNCache) -> None:
    holder = ModelHolder(model_root, cache=cache)
    holder.reload_if_changed()
    rec = holder.current
    report = warm_cache(rec, cache, top_users=25, n=10)
    assert report.users == 25
    activity = {u: len(rec.model.seen_items(i)) for i, u in enumerate(rec.model.user_ids.tolist())}
    most_active = max(activity, key=lambda u: (activity[u], -rec.user_index(u)))
    with Server(holder) as client:
        assert client.get(f"/v1/users/{most_active}/recommendations").json()["cached"] is True


def test_hot_reload_under_concurrent_requests_fails_nothing(tmp_path: Path) -> None:
    first = train_small(tmp_path, seed=5).model.version
    holder = ModelHolder(tmp_path)
    holder.reload_if_changed()
    user = str(holder.current.model.user_ids[0])
    stop = threading.Event()
    with Server(holder) as client:

        def hammer() -> tuple[int, set[str], list[int]]:
            count, versions, failures = 0, set(), []
            while not stop.is_set():
                response = client.get(f"/v1/users/{user}/recommendations", params={"n": 5})
                if response.status_code != 200:
                    failures.append(response.status_code)
                else:
                    body = response.json()
                    assert len(body["items"]) == 5
                    versions.add(body["model_version"])
                count += 1
            return count, versions, failures

        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(hammer) for _ in range(4)]
            time.sleep(1.1)
            second = train_small(tmp_path, seed=6).model.version
            assert holder.reload_if_changed()
            time.sleep(0.5)
            stop.set()
            results = [f.result() for f in futures]
    assert sum(r[0] for r in results) > 20
    assert all(not r[2] for r in results), [r[2] for r in results]
    versions = set().union(*(r[1] for r in results))
    assert versions == {first, second}


def test_a_broken_new_model_keeps_the_old_one_serving(tmp_path: Path) -> None:
    good = train_small(tmp_path, seed=8).model.version
    holder = ModelHolder(tmp_path)
    holder.reload_if_changed()
    (tmp_path / "CURRENT").write_text("does-not-exist")
    assert not holder.reload_if_changed()
    assert holder.current.version == good
    assert "does-not-exist not found" in (holder.last_error or "")
