"""Smoke test of the three service images against the servers they need (PostgreSQL and Redis on
127.0.0.1): each container must report healthy and answer one real request.

  recommendation-service  synthesize -> train -> serve with the Redis cache -> GET recommendations
  analytics-consumer      simulate into a Redis stream (the analytics-tools pex, on the host: the simulator is
                          not in the production image) -> run -> sessions appear in PostgreSQL
  video-processor         sample clip -> enqueue in PostgreSQL -> worker -> HLS ladder on disk

    eval "$(bash build-support/ensure-docker.sh)"; python3 build-support/smoke_images.py --tag dev

Containers use the host network (the servers listen on loopback only). Files go to fresh named volumes
mounted where the compose stack mounts them (/models, /media): the images create those paths owned by
their user (uid 10001), so a new volume is writable without any chmod - which this test proves. Everything
created - containers, a database, Redis keys under one prefix, the volumes - is removed afterwards. Prints a JSON report
with image sizes and timings; exits 1 if any check failed.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess  # nosec B404 - fixed docker/psql/redis-cli argument lists
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Callable

# The player simulator ships in its own pex:
# `./pants package src/python/netflix_clone/tools/analytics:analytics-tools`.
TOOLS_PEX = Path(__file__).resolve().parents[1] / "dist/src.python.netflix_clone.tools.analytics/analytics-tools.pex"

SERVICES = ("recommendation-service", "analytics-consumer", "video-processor")


def sh(*args: str, timeout: float = 600, check: bool = True) -> str:
    done = subprocess.run(  # nosec B603 - fixed docker/psql/redis-cli argument lists
        args, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])}… exited {done.returncode}: {done.stderr.strip()[-800:]}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, predicate: Callable[[], bool], timeout: float = 120.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if predicate():
                return time.monotonic() - started
        except Exception:  # noqa: BLE001  # pylint: disable=broad-except
            time.sleep(0.5)  # not up yet (connection refused, container starting)
            continue
        time.sleep(0.5)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


class Smoke:
    def __init__(self, tag: str, pg: str, redis_url: str) -> None:
        self.tag = tag
        self.pg = pg
        self.redis_url = redis_url
        self.run_id = uuid.uuid4().hex[:8]
        self.prefix = f"smoke-{self.run_id}:"
        self.db = f"smoke_{self.run_id}"
        self.dsn = f"host=127.0.0.1 port=5432 user=postgres dbname={self.db}"
        # service -> (named volume, mount point): created empty by `docker run`, initialised from the image.
        self.volumes = {
            "recommendation-service": (f"nfc-smoke-models-{self.run_id}", "/models"),
            "video-processor": (f"nfc-smoke-media-{self.run_id}", "/media"),
        }
        self.containers: list[str] = []

    def image(self, service: str) -> str:
        return f"netflix-clone/{service}:{self.tag}"

    def docker_run(self, service: str, *args: str, detach: bool = False, env: dict[str, str] | None = None) -> str:
        command = ["docker", "run", "--network", "host", *([] if detach else ["--rm"])]
        if service in self.volumes:
            command += ["-v", ":".join(self.volumes[service])]
        for key, value in (env or {}).items():
            command += ["-e", f"{key}={value}"]
        if detach:
            name = f"smoke-{service}-{self.run_id}"
            command += [
                "-d",
                "--name",
                name,
                "--health-interval",
                "1s",
                "--health-start-period",
                "0s",
            ]
            self.containers.append(name)
        command += [self.image(service), *args]
        return sh(*command).strip()

    def read(self, service: str, path: str) -> str:
        """A file from the service's volume, read by a throwaway container as the image user."""
        volume, mount = self.volumes[service]
        return sh("docker", "run", "--rm", "-v", f"{volume}:{mount}", "--entrypoint", "cat", self.image(service), path)

    def ls(self, service: str, pattern: str) -> list[str]:
        volume, mount = self.volumes[service]
        out = sh("docker", "run", "--rm", "-v", f"{volume}:{mount}", "--entrypoint", "sh", self.image(service),
                 "-c", f"ls -d {pattern} 2>/dev/null || true")  # fmt: skip
        return out.split()

    def owner(self, service: str) -> str:
        """uid:gid of the volume's root as a fresh container sees it (the image user's, not root's)."""
        volume, mount = self.volumes[service]
        return sh("docker", "run", "--rm", "-v", f"{volume}:{mount}", "--entrypoint", "stat", self.image(service),
                  "-c", "%u:%g", mount).strip()  # fmt: skip

    def healthy(self, container: str) -> bool:
        state = sh("docker", "inspect", "--format", "{{.State.Status}} {{.State.Health.Status}}", container).split()
        if state[0] != "running":
            raise RuntimeError(
                f"{container} is {state[0]}: {sh('docker', 'logs', '--tail', '20', container, check=False)}"
            )
        return state[1] == "healthy"

    def psql(self, sql: str) -> str:
        return sh("psql", "-h", "127.0.0.1", "-U", "postgres", "-d", self.db, "-Atc", sql).strip()

    def setup(self) -> None:
        sh(
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
            f"CREATE DATABASE {self.db}",
        )

    def cleanup(self) -> None:
        for name in self.containers:
            sh("docker", "rm", "-f", name, check=False)
        sh("psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c",
           f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)", check=False)  # fmt: skip
        keys = sh("redis-cli", "-u", self.redis_url, "--scan", "--pattern", f"{self.prefix}*", check=False).split()
        for start in range(0, len(keys), 500):
            sh("redis-cli", "-u", self.redis_url, "DEL", *keys[start : start + 500], check=False)
        for volume, _ in self.volumes.values():
            sh("docker", "volume", "rm", "-f", volume, check=False)

    def recommendation_service(self) -> dict[str, Any]:
        self.docker_run(
            "recommendation-service",
            "synthesize",
            "--out",
            "/models/history.csv",
            "--users",
            "300",
            "--items",
            "200",
        )
        self.docker_run(
            "recommendation-service",
            "train",
            "--history",
            "/models/history.csv",
            "--model-dir",
            "/models",
            "--skip-eval",
        )
        port = free_port()
        container = self.docker_run(
            "recommendation-service", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--model-dir", "/models",
            "--redis-url", self.redis_url, "--cache-prefix", f"{self.prefix}reco:",
            detach=True, env={"HEALTH_PORT": str(port)},
        )  # fmt: skip
        healthy_after = wait_for("recommendation-service to be healthy", lambda: self.healthy(container))
        header, row = self.read("recommendation-service", "/models/history.csv").splitlines()[:2]
        user = row.split(",")[header.split(",").index("user_id")]
        url = f"http://127.0.0.1:{port}/v1/users/{user}/recommendations?n=5"
        first = json.load(urllib.request.urlopen(url, timeout=10))  # nosec B310 - loopback
        second = json.load(urllib.request.urlopen(url, timeout=10))  # nosec B310
        assert len(first["items"]) == 5 and first["strategy"].startswith("als"), first
        assert second["cached"] is True, "second request was not served from the Redis cache"
        owner = self.owner("recommendation-service")
        assert owner == "10001:10001", f"/models volume owned by {owner}"
        return {
            "healthy_after_s": round(healthy_after, 1),
            "models_volume_owner": owner,
            "recommendations": [i["item"] for i in first["items"]],
        }

    def analytics_consumer(self) -> dict[str, Any]:
        stream = f"{self.prefix}events"
        sent = json.loads(sh(
            sys.executable, str(TOOLS_PEX), "simulate", "--sessions", "40", "--redis-url", self.redis_url,
            "--stream", stream, "--json",
        ))  # fmt: skip
        port = free_port()
        container = self.docker_run(
            "analytics-consumer", "run", "--redis-url", self.redis_url, "--stream", stream, "--group", "smoke",
            "--dead-letter-stream", f"{self.prefix}dead", "--store-prefix", f"{self.prefix}store:",
            "--postgres", self.dsn, "--ops-host", "127.0.0.1", "--ops-port", str(port),
            detach=True, env={"HEALTH_PORT": str(port)},
        )  # fmt: skip
        healthy_after = wait_for("analytics-consumer to be healthy", lambda: self.healthy(container))
        wait_for(
            "sessions in PostgreSQL",
            lambda: int(self.psql("SELECT count(*) FROM sessions") or 0) > 0,
        )
        sessions = int(self.psql("SELECT count(*) FROM sessions"))
        return {
            "healthy_after_s": round(healthy_after, 1),
            "events": sent["events"],
            "sessions_in_postgres": sessions,
        }

    def video_processor(self) -> dict[str, Any]:
        self.docker_run(
            "video-processor",
            "sample",
            "/media/uploads/clip.mp4",
            "--pattern",
            "testsrc2",
            "--size",
            "320x180",
            "--seconds",
            "2",
        )
        self.docker_run(
            "video-processor",
            "enqueue",
            "/media/uploads/clip.mp4",
            "--queue",
            self.dsn,
            "--title-id",
            "smoke",
            "--segment-seconds",
            "1",
        )
        port = free_port()
        container = self.docker_run(
            "video-processor", "worker", "--queue", self.dsn, "--output", "/media/published", "--catalog", self.dsn,
            "--ops-host", "127.0.0.1", "--ops-port", str(port), "--poll-s", "0.5",
            detach=True, env={"HEALTH_PORT": str(port)},
        )  # fmt: skip
        healthy_after = wait_for("video-processor to be healthy", lambda: self.healthy(container))
        wait_for(
            "the video job to finish",
            lambda: self.psql("SELECT state FROM video_jobs") in ("succeeded", "failed"),
            300,
        )
        state, reason = self.psql("SELECT state, coalesce(reason, '') FROM video_jobs").split("|")
        assert state == "succeeded", f"video job {state}: {reason}"
        masters = self.ls("video-processor", "/media/published/titles/smoke/*/master.m3u8")
        assert masters, "no master playlist published"
        assert self.read("video-processor", masters[0]).startswith("#EXTM3U"), "master playlist is not HLS"
        owner = self.owner("video-processor")
        assert owner == "10001:10001", f"/media volume owned by {owner}"
        rows = int(self.psql("SELECT count(*) FROM catalog_titles WHERE title_id = 'smoke'"))
        assert rows == 1, "no catalog row"
        return {
            "healthy_after_s": round(healthy_after, 1),
            "job": state,
            "media_volume_owner": owner,
            "master_playlist": masters[0],
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tag", default=os.environ.get("VERSION", "dev"))
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    smoke = Smoke(args.tag, "postgres", args.redis_url)
    report: dict[str, Any] = {"tag": args.tag, "images": {}}
    failed = False
    try:
        smoke.setup()
        for service in SERVICES:
            size = int(sh("docker", "image", "inspect", "--format", "{{.Size}}", smoke.image(service)).strip())
            started = time.monotonic()
            try:
                result = getattr(smoke, service.replace("-", "_"))()
                result["ok"] = True
            except Exception as exc:  # noqa: BLE001  # pylint: disable=broad-except  # reported, then exit 1
                failed = True
                result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                for name in smoke.containers:
                    if service in name:
                        result["logs"] = sh("docker", "logs", "--tail", "30", name, check=False)
            result["image_mb"] = round(size / 1e6)
            result["seconds"] = round(time.monotonic() - started, 1)
            report["images"][service] = result
            print(
                f"smoke: {service}: {'ok' if result['ok'] else 'FAILED'} ({result['seconds']} s)",
                file=sys.stderr,
            )
    finally:
        smoke.cleanup()
    print(json.dumps(report, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
