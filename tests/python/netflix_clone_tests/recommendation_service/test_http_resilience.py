"""The server stays up: Redis that refuses, hangs or dies mid-reload; hostile bodies, URLs and ids;
/readyz that tells the current state. In-process uvicorn (the built pex is exercised in test_faults)."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn

from netflix_clone.recommendation_service.adapters.topn_cache import (
    TopNCache,
    async_redis_factory,
    redis_client_for_serving,
)
from netflix_clone.recommendation_service.serving.http.app import create_app
from netflix_clone.recommendation_service.serving.http.limits import BoundedHttpToolsProtocol
from netflix_clone.recommendation_service.serving.model_holder import ModelHolder
from netflix_clone_testing.backends import RedisNamespace

from .faults import TcpProxy, free_port, raw_request
from .helpers import train_small


class Server:
    def __init__(self, holder: ModelHolder, **kwargs: object) -> None:
        self.port = free_port()
        self.app = create_app(holder, **kwargs)  # type: ignore[arg-type]
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            http=BoundedHttpToolsProtocol,
        )
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
    train_small(root, seed=11)
    return root


@pytest.fixture()
def proxy(redis_ns: RedisNamespace) -> Iterator[TcpProxy]:
    target = urlsplit(redis_ns.url)
    forwarder = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    yield forwarder
    forwarder.close()


def _cache(proxy: TcpProxy, redis_ns: RedisNamespace) -> TopNCache:
    return TopNCache(
        redis_client_for_serving(proxy.url, timeout_s=0.2),
        prefix=redis_ns.key("reco:"),
        ttl_s=60,
        retry_after_s=0.5,
        async_factory=async_redis_factory(proxy.url, timeout_s=0.2),
    )


def _metric(client: httpx.Client, name: str, labels: str = "") -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + labels + " ") or (not labels and line.startswith(name + " ")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_redis_refusing_or_hanging_serves_uncached_and_reports_degraded(
    model_root: Path, proxy: TcpProxy, redis_ns: RedisNamespace
) -> None:
    cache = _cache(proxy, redis_ns)
    holder = ModelHolder(model_root, cache=cache)
    holder.reload_if_changed()
    users = [str(u) for u in holder.current.model.user_ids[:40]]
    with Server(holder) as client:
        assert client.get(f"/v1/users/{users[0]}/recommendations").json()["cached"] is False
        assert client.get(f"/v1/users/{users[0]}/recommendations").json()["cached"] is True
        assert client.get("/readyz").json()["status"] == "ready"

        proxy.stop()  # connection refused
        for user in users[:10]:
            response = client.get(f"/v1/users/{user}/recommendations")
            assert response.status_code == 200 and len(response.json()["items"]) == 10
        ready = client.get("/readyz")
        assert ready.status_code == 200, "a cache outage must not take the replica out of service"
        assert ready.json()["status"] == "degraded" and "unavailable" in ready.json()["cache"]
        assert _metric(client, "reco_topn_cache_total", '{result="error"}') >= 1
        assert _metric(client, "reco_topn_cache_total", '{result="bypassed"}') >= 1

        proxy.start()
        proxy.pause()  # connections accepted, nothing answered: every call would hang
        time.sleep(0.6)  # past the circuit's retry window: the next call tries Redis again
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda u: client.get(f"/v1/users/{u}/recommendations").status_code, users[10:30]))
            health = client.get("/healthz")
        assert statuses == [200] * 20 and health.status_code == 200
        assert client.get("/readyz").json()["status"] == "degraded"

        proxy.resume()
        time.sleep(0.6)
        holder.tick()  # the watcher's probe closes the circuit without any traffic
        assert client.get("/readyz").json() == {
            "status": "ready",
            "model_version": holder.current.version,
            "model_uri": str(model_root),
            "cache": "ok",
        }
        client.get(f"/v1/users/{users[35]}/recommendations")
        assert client.get(f"/v1/users/{users[35]}/recommendations").json()["cached"] is True


def test_redis_down_during_a_reload_does_not_kill_the_watcher(
    tmp_path: Path, proxy: TcpProxy, redis_ns: RedisNamespace
) -> None:
    first = train_small(tmp_path, seed=21).model.version
    cache = _cache(proxy, redis_ns)
    holder = ModelHolder(tmp_path, cache=cache)
    with Server(holder, watch_interval_s=0.1) as client:
        assert holder.wait_ready(20) and holder.current.version == first
        proxy.stop()
        second = train_small(tmp_path, seed=22).model.version
        deadline = time.monotonic() + 20
        while holder.current.version != second and time.monotonic() < deadline:
            time.sleep(0.05)
        assert holder.current.version == second and holder.watching
        events = client.get("/metrics").text
        assert 'reco_model_events_total{event="cache_invalidation_error"}' in events
        proxy.start()
        third = train_small(tmp_path, seed=23).model.version
        deadline = time.monotonic() + 20
        while holder.current.version != third and time.monotonic() < deadline:
            time.sleep(0.05)
        assert holder.current.version == third and holder.watching
        assert client.get("/readyz").json()["model_version"] == third


def test_readyz_tells_the_current_state_not_history(tmp_path: Path) -> None:
    good = train_small(tmp_path, seed=31).model.version
    holder = ModelHolder(tmp_path)
    holder.reload_if_changed()
    with Server(holder) as client:
        (tmp_path / "CURRENT").write_text("no-such-version\n")
        holder.reload_if_changed()
        body = client.get("/readyz").json()
        assert body["status"] == "ready" and body["model_version"] == good
        assert "no-such-version" in body["reload_error"]
        (tmp_path / "CURRENT").write_text(good + "\n")
        holder.reload_if_changed()
        body = client.get("/readyz").json()
        assert "reload_error" not in body and body["status"] == "ready"


def test_a_watcher_survives_any_error_and_keeps_retrying(tmp_path: Path, monkeypatch) -> None:
    good = train_small(tmp_path, seed=41).model.version
    holder = ModelHolder(tmp_path)
    calls = {"n": 0}
    real = holder.store.current_version

    def flaky() -> str:
        calls["n"] += 1
        if calls["n"] % 2:
            raise RuntimeError("transient")
        return real()

    monkeypatch.setattr(holder.store, "current_version", flaky)
    holder.watch(0.02, load_now=True)
    try:
        deadline = time.monotonic() + 10
        while (not holder.ready or calls["n"] < 6) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert holder.ready and holder.current.version == good and holder.watching
    finally:
        holder.close()


@pytest.fixture(scope="module")
def api(model_root: Path) -> Iterator[tuple[httpx.Client, ModelHolder, int]]:
    holder = ModelHolder(model_root)
    holder.reload_if_changed()
    server = Server(holder)
    with server as client:
        yield client, holder, server.port


def test_a_declared_50_mb_body_is_refused_before_reading(api) -> None:
    client, _, port = api
    head = (
        b"POST /v1/scores HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" b"Content-Length: 52428800\r\n\r\n"
    )
    status, body, _ = raw_request(port, head, body_chunks=800, chunk=b"x" * 65536)
    assert status == 413 and len(body) < 200 and b"1048576" in body
    assert client.get("/healthz").status_code == 200


def test_a_chunked_body_is_counted_and_refused_past_the_limit(api) -> None:
    client, holder, _ = api

    def chunks() -> Iterator[bytes]:
        yield b'{"user": "u1", "items": ["'
        for _ in range(40):
            yield b"a" * 65536

    response = client.post("/v1/scores", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and len(response.content) < 200
    # A body of exactly the limit is parsed as usual.
    user = str(holder.current.model.user_ids[0])
    items = [str(i) for i in holder.current.model.item_ids.tolist()] * 500
    body = json.dumps({"user": user, "items": items[:10_000]}).encode()
    body += b" " * ((1 << 20) - len(body))  # exactly at the limit
    assert len(body) == 1 << 20
    json_type = {"content-type": "application/json"}
    assert client.post("/v1/scores", content=body, headers=json_type).status_code == 200


@pytest.mark.parametrize("where", ["path", "query"])
def test_a_50_mb_id_in_the_url_gets_414_without_echo(api, where: str) -> None:
    _, _, port = api
    big = b"a" * (50 << 20)
    target = b"/v1/items/" + big + b"/similar" if where == "path" else b"/v1/score?user=u&item=" + big
    status, body, _ = raw_request(port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 414 and len(body) < 200


def test_errors_echo_at_most_a_short_prefix(api) -> None:
    client, holder, _ = api
    user = str(holder.current.model.user_ids[0])
    long_id = "z" * 250  # within the 256-character bound: a clean 404
    response = client.get(f"/v1/items/{long_id}/similar")
    assert response.status_code == 404 and len(response.text) < 120
    assert response.json()["detail"].startswith("unknown title 'zzzz")
    too_long = "y" * 5000
    response = client.get(f"/v1/users/{too_long}/recommendations")
    assert response.status_code == 422 and len(response.text) < 400 and "y" * 60 not in response.text
    response = client.post("/v1/scores", json={"user": "x" * 900_000, "items": ["a"]})
    assert response.status_code == 422 and len(response.text) < 1000
    response = client.post("/v1/scores", json={"user": user, "items": ["q" * 200] * 3000})
    assert response.status_code == 404 and len(response.text) < 200
    response = client.post("/v1/scores/pairs", json={"pairs": [[user, "w" * 300]]})
    assert response.status_code == 422 and len(response.text) < 600


def test_post_route_takes_large_exclusion_lists(api) -> None:
    client, holder, _ = api
    model = holder.current.model
    user = str(model.user_ids[2])
    everything_but_three = [str(i) for i in model.item_ids.tolist()[3:]] * 60  # ~12k ids
    response = client.post(
        f"/v1/users/{user}/recommendations",
        json={"n": 5, "exclude": everything_but_three, "exclude_seen": False},
    )
    assert response.status_code == 200
    items = [r["item"] for r in response.json()["items"]]
    assert set(items) <= {str(i) for i in model.item_ids.tolist()[:3]}
    get = client.get(f"/v1/users/{user}/recommendations", params={"n": 4}).json()
    post = client.post(f"/v1/users/{user}/recommendations", json={"n": 4}).json()
    assert get["items"] == post["items"]
    assert (
        client.post(f"/v1/users/{user}/recommendations").json()["items"]
        == client.get(f"/v1/users/{user}/recommendations").json()["items"]
    )


def test_healthz_answers_while_a_big_body_is_refused(api) -> None:
    client, _, port = api
    head = b"POST /v1/scores HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"10000\r\n" + b"x" * 65536 + b"\r\n"
    with ThreadPoolExecutor(2) as pool:
        upload = pool.submit(raw_request, port, head, 800, chunk)
        health = [client.get("/healthz").status_code for _ in range(50)]
        status, body, _ = upload.result()
    assert health == [200] * 50
    assert status == 413 and len(body) < 200


def test_a_model_copied_in_place_is_served_after_a_broken_one(tmp_path: Path) -> None:
    """A broken version named by CURRENT keeps the old one serving; repairing it lets it load."""
    good = train_small(tmp_path, seed=51)
    holder = ModelHolder(tmp_path)
    holder.reload_if_changed()
    second = train_small(tmp_path, seed=52)
    saved = tmp_path / "saved-seen.npz"
    shutil.copy(second.path / "seen.npz", saved)
    (second.path / "seen.npz").write_bytes(saved.read_bytes()[:100])
    assert not holder.reload_if_changed()
    assert holder.current.version == good.model.version and "seen.npz" in (holder.last_error or "")
    shutil.copy(saved, second.path / "seen.npz")
    assert holder.reload_if_changed() and holder.current.version == second.model.version
    assert holder.last_error is None
