"""Faults from outside, against the real server process: the built pex (as the images run it) with two
workers, Redis behind a TCP forwarder this test stops and pauses. One row per fault:

| fault                                          | expected                                                 |
|------------------------------------------------|----------------------------------------------------------|
| 50 MB body with Content-Length                 | 413 before the body is read, short body, RSS flat         |
| 50 MB chunked body                             | 413 after 1 MB, short body                                |
| 50 MB id in the URL                            | 414, short body                                           |
| /healthz during a 50 MB refused upload         | every /healthz 200                                        |
| Redis refused (forwarder stopped)              | top-N 200 uncached, /readyz 200 "degraded", errors counted |
| Redis hanging (forwarder paused)               | top-N 200 within the client's timeout, /healthz 200       |
| Redis down while a new version is published    | the new version is served, the watcher lives on           |
| Redis back                                     | /readyz "ready" again, lists cached again                 |
| a worker killed with SIGKILL                   | the other answers; a new worker replaces it               |
| NFC_RECO_PORT=eighty, `inspect`                | exit 2, one line naming NFC_RECO_PORT, no traceback       |
| Redis on a closed port, `warm-cache --json`    | exit 1, one line, one JSON object, no traceback           |
"""

from __future__ import annotations

import json
import os
import subprocess  # nosec B404 - the server under test
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from netflix_clone_testing.backends import RedisNamespace

from .faults import TcpProxy, free_port, raw_request
from .helpers import train_small

PEX = Path("src.python.netflix_clone.recommendation_service/recommendation-service.pex")


def _command() -> list[str]:
    if PEX.exists():  # under Pants: the packaged binary
        return [sys.executable, str(PEX)]
    return [sys.executable, "-m", "netflix_clone.recommendation_service.cli"]


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
                if int(stat[1]) == pid:
                    found.add(int(entry.name))
            except OSError:
                continue
    return found


def _tree_rss_kb(pid: int) -> int:
    """RSS of a process and its children (the supervisor and its workers)."""
    total = 0
    for p in {pid} | _children(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text(encoding="utf-8").splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


class Service:
    def __init__(self, root: Path, redis_url: str, prefix: str) -> None:
        self.root = root
        self.port = free_port()
        env = {
            **os.environ,
            "NFC_LOG_LEVEL": "ERROR",
            "PEX_ROOT": os.environ.get("PEX_ROOT", str(root.parent / ".pex")),
        }
        self.process = subprocess.Popen(  # nosec B603 - fixed argv
            [
                *_command(),
                "serve",
                "--model-dir",
                str(root),
                "--port",
                str(self.port),
                "--workers",
                "2",
                "--redis-url",
                redis_url,
                "--cache-prefix",
                prefix,
                "--redis-timeout",
                "0.2",
                "--reload-interval",
                "0.2",
            ],  # fmt: skip
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            try:
                if self.client.get("/readyz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("the server did not become ready")

    def stop(self) -> None:
        self.client.close()
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, redis_ns: RedisNamespace
) -> Iterator[tuple[Service, TcpProxy, Path]]:
    root = tmp_path_factory.mktemp("models")
    train_small(root, seed=81)
    target = urlsplit(redis_ns.url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    service = Service(root, proxy.url, redis_ns.key("reco:"))
    try:
        service.wait_ready()
        yield service, proxy, root
    finally:
        service.stop()
        proxy.close()


def _user(root: Path, i: int) -> str:
    return f"u{i:03d}"


def test_row_50_mb_body_with_content_length(world) -> None:
    service, _, _ = world
    before = _tree_rss_kb(service.process.pid)
    head = (
        b"POST /v1/scores HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" b"Content-Length: 52428800\r\n\r\n"
    )
    status, body, _ = raw_request(service.port, head, body_chunks=800, chunk=b"x" * 65536)
    assert status == 413 and len(body) < 200
    assert _tree_rss_kb(service.process.pid) - before < 100_000  # nothing of the 50 MB was kept


def test_row_50_mb_chunked_body(world) -> None:
    service, _, _ = world
    head = b"POST /v1/scores HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"10000\r\n" + b"x" * 65536 + b"\r\n"
    status, body, _ = raw_request(service.port, head, body_chunks=800, chunk=chunk)
    assert status == 413 and len(body) < 200


def test_row_50_mb_id_in_the_url(world) -> None:
    service, _, _ = world
    target = b"/v1/items/" + b"i" * (50 << 20) + b"/similar"
    status, body, _ = raw_request(service.port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 414 and len(body) < 200


def test_row_healthz_during_a_refused_upload(world) -> None:
    service, _, _ = world
    head = b"POST /v1/scores HTTP/1.1\r\nHost: x\r\nContent-Length: 52428800\r\n\r\n"
    with ThreadPoolExecutor(3) as pool:
        uploads = [pool.submit(raw_request, service.port, head, 800, b"x" * 65536) for _ in range(2)]
        health = [service.client.get("/healthz").status_code for _ in range(100)]
        results = [u.result()[0] for u in uploads]
    assert health == [200] * 100 and results == [413, 413]


def test_row_redis_refused_then_hanging_then_back(world) -> None:
    service, proxy, root = world
    client = service.client
    assert client.get(f"/v1/users/{_user(root, 1)}/recommendations").status_code == 200
    proxy.stop()
    for i in range(10, 30):
        response = client.get(f"/v1/users/{_user(root, i)}/recommendations")
        assert response.status_code == 200 and response.json()["cached"] is False
    ready = client.get("/readyz")
    # Two workers: the one answering may not have met the outage yet; ask until one has.
    deadline = time.monotonic() + 10
    while ready.json()["status"] != "degraded" and time.monotonic() < deadline:
        client.get(f"/v1/users/{_user(root, 2)}/recommendations")
        ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "degraded"
    metrics = client.get("/metrics").text
    assert any(
        line.startswith("reco_topn_cache_total") and 'result="error"' in line and not line.endswith(" 0.0")
        for line in metrics.splitlines()
    )

    proxy.start()
    proxy.pause()
    with ThreadPoolExecutor(8) as pool:
        statuses = list(
            pool.map(
                lambda i: client.get(f"/v1/users/{_user(root, i)}/recommendations").status_code,
                range(30, 60),
            )
        )
        assert client.get("/healthz").status_code == 200
    assert statuses == [200] * 30

    proxy.resume()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        states = {client.get("/readyz").json()["status"] for _ in range(6)}
        if states == {"ready"}:
            break
        time.sleep(0.2)
    assert states == {"ready"}
    user = _user(root, 70)
    client.get(f"/v1/users/{user}/recommendations")
    assert client.get(f"/v1/users/{user}/recommendations").json()["cached"] is True


def test_row_redis_down_while_a_new_version_is_published(world) -> None:
    service, proxy, root = world
    proxy.stop()
    try:
        new = train_small(root, seed=82).model.version
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            versions = {service.client.get("/readyz").json()["model_version"] for _ in range(6)}
            if versions == {new}:
                break
            time.sleep(0.2)
        assert versions == {new}
        assert service.process.poll() is None
    finally:
        proxy.start()
    newer = train_small(root, seed=83).model.version  # the watchers are still alive
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        versions = {service.client.get("/readyz").json()["model_version"] for _ in range(6)}
        if versions == {newer}:
            break
        time.sleep(0.2)
    assert versions == {newer}


def test_row_a_worker_killed(world) -> None:
    service, _, _ = world
    workers = {p for p in _children(service.process.pid) if "reco-worker" in _cmdline(p) or _is_python(p)}
    assert len(workers) >= 2
    victim = sorted(workers)[0]
    os.kill(victim, 9)
    # Connections the victim held are gone with it; every new connection lands on a live worker.
    base = f"http://127.0.0.1:{service.port}"
    answers = [httpx.get(f"{base}/healthz", timeout=10).status_code for _ in range(20)]
    assert answers == [200] * 20
    service.client.close()
    service.client = httpx.Client(base_url=base, timeout=10)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        alive = {p for p in _children(service.process.pid) if _is_python(p)}
        if len(alive) >= 2 and victim not in alive:
            break
        time.sleep(0.2)
    assert len(alive) >= 2 and victim not in alive
    service.wait_ready()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _is_python(pid: int) -> bool:
    return "python" in _cmdline(pid) and "resource_tracker" not in _cmdline(pid)


def _run_pex(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # An operator's environment: none of the test runner's own PEX variables (pex warns about them).
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("NFC_", "PEX_", "__PEX"))},
        "PEX_ROOT": os.environ.get("PEX_ROOT", str(tmp_path / ".pex")),
        **env,
    }
    return subprocess.run(  # nosec B603 - fixed argv
        [*_command(), *args], env=environ, capture_output=True, text=True, timeout=300, check=False
    )


def test_row_a_bad_variable_names_it(tmp_path: Path) -> None:
    """| NFC_RECO_PORT=eighty, `inspect` | exit 2, one line naming NFC_RECO_PORT, no traceback |"""
    done = _run_pex(["inspect", "--model-dir", str(tmp_path)], {"NFC_RECO_PORT": "eighty"}, tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "NFC_RECO_PORT" in done.stderr and "Traceback" not in done.stderr


def test_row_redis_unreachable_for_warm_cache(tmp_path: Path) -> None:
    """| Redis on a closed port, `warm-cache --json` | exit 1, one line, one JSON object, no traceback |"""
    train_small(tmp_path / "m", seed=84)
    done = _run_pex(
        ["warm-cache", "--model-dir", str(tmp_path / "m"), "--json"],
        {"NFC_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"},
        tmp_path,
    )
    assert done.returncode == 1, done.stderr
    # The retries are logged (JSON lines); the outcome is one line of its own.
    outcome = [line for line in done.stderr.splitlines() if not line.startswith("{")]
    assert len(outcome) == 1 and "Redis" in outcome[0] and "Traceback" not in done.stderr
    payload = json.loads(done.stdout)
    assert payload["outcome"] == "failed" and payload["exit_code"] == 1
