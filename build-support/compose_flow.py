"""The compose stack, started for real, and the platform's flow through it.

    eval "$(bash build-support/ensure-docker.sh)"; ./pants package docker::
    python3 build-support/compose_flow.py --tag "$VERSION" --offline   # here: PostgreSQL/Redis from Debian
    python3 build-support/compose_flow.py --tag "$VERSION"             # GitHub: upstream postgres/redis

Steps (each printed with its time; the first failure stops the run and prints the services' logs):
  1. `up -d` of docker/docker-compose.yml (+ docker/compose.offline.yml with --offline, which builds
     PostgreSQL and Redis from Debian packages on BASE_IMAGE); health waited for here (`--wait` too
     when the compose implementation has it)
  2. the named volumes /media and /models belong to the image user (uid 10001) in fresh containers
  3. a 2 s clip (made by the ffmpeg the video image ships) enqueued, processed by the worker into an HLS
     ladder on the media volume and a catalog row in PostgreSQL
  4. simulated player events into the Redis stream; the consumer writes sessions and viewing history
  5. `run --rm recommendation-service train` on that viewing history writes its model to the models
     volume; the server hot-loads it and a recommendation is fetched over HTTP (the published port)
  6. `down -v`, always (also on failure or Ctrl-C); the total time is printed

Uses `docker compose` (v2) when the CLI has it, else `docker-compose` (1.29; installed from Debian's
mirror with apt when absent). The project name and host ports are chosen per run, so a stack someone
else runs is not touched. Exit status 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess  # nosec B404 - fixed docker/compose argument lists
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Callable, Optional

# The player simulator ships in its own pex, not in the analytics image; it runs on the host against the
# stack's Redis on its published port (`./pants package src/python/netflix_clone/tools/analytics:analytics-tools`).
TOOLS_PEX = Path(__file__).resolve().parents[1] / "dist/src.python.netflix_clone.tools.analytics/analytics-tools.pex"

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker" / "docker-compose.yml"
OFFLINE_FILE = REPO / "docker" / "compose.offline.yml"
SERVICES = ("postgres", "redis", "video-processor", "analytics-consumer", "recommendation-service")
DSN = "host=postgres port=5432 user=postgres password=postgres dbname=netflix"  # pragma: allowlist secret
IMAGE_UID = "10001:10001"


class FlowError(RuntimeError):
    pass


def log(message: str) -> None:
    print(f"compose-flow: {message}", file=sys.stderr, flush=True)


def run(args: list[str], timeout: float = 300, check: bool = True, env: Optional[dict[str, str]] = None) -> str:
    try:
        done = subprocess.run(  # nosec B603 - fixed docker/compose argument lists
            args, capture_output=True, text=True, timeout=timeout, check=False, env=env, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise FlowError(f"{' '.join(args[:6])}… took longer than {timeout:.0f} s") from exc
    if check and done.returncode != 0:
        raise FlowError(
            f"{' '.join(args[:8])}… exited {done.returncode}:\n{(done.stderr or done.stdout).strip()[-1500:]}"
        )
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, predicate: Callable[[], bool], timeout: float) -> float:
    started = time.monotonic()
    last = ""
    while time.monotonic() - started < timeout:
        try:
            if predicate():
                return time.monotonic() - started
        except FlowError:
            raise
        except Exception as exc:  # noqa: BLE001  # pylint: disable=broad-except  # not ready yet
            last = f" (last: {type(exc).__name__}: {exc})"
        time.sleep(1)
    raise FlowError(f"timed out after {timeout:.0f} s waiting for {what}{last}")


def compose_command() -> list[str]:
    """`docker compose` when the CLI has the v2 plugin, else `docker-compose` (installed if absent)."""
    if subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode == 0:  # nosec
        return ["docker", "compose"]
    if shutil.which("docker-compose") is None:
        log("no compose implementation: installing Debian's docker-compose (1.29) with apt")
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run([*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "docker-compose"], 600, env=env)
    return ["docker-compose"]


class Flow:
    def __init__(self, tag: str, offline: bool) -> None:
        self.base = compose_command()
        self.v2 = self.base == ["docker", "compose"]
        self.project = f"nfc-flow-{uuid.uuid4().hex[:6]}"
        files = [COMPOSE_FILE, *([OFFLINE_FILE] if offline else [])]
        self.compose = [*self.base, "-p", self.project, *(a for f in files for a in ("-f", str(f)))]
        self.ports = {name: free_port() for name in ("POSTGRES", "REDIS", "CASSANDRA", "VIDEO", "ANALYTICS", "RECO")}
        self.env = {**os.environ, "TAG": tag, **{f"{k}_HOST_PORT": str(v) for k, v in self.ports.items()}}
        self.offline = offline
        self.tag = tag

    def c(self, *args: str, timeout: float = 300, check: bool = True) -> str:
        return run([*self.compose, *args], timeout, check, env=self.env)

    def sql(self, query: str) -> str:
        return self.c("exec", "-T", "postgres", "psql", "-U", "postgres", "-d", "netflix", "-Atc", query).strip()

    def container_state(self, service: str) -> tuple[str, str]:
        ids = self.c("ps", "-q", service).split()
        if not ids:
            return "absent", ""
        fmt = "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}"
        status, health = run(["docker", "inspect", "--format", fmt, ids[0]]).split()
        return status, health

    def all_healthy(self) -> bool:
        states = {s: self.container_state(s) for s in SERVICES}
        for service, (status, _) in states.items():
            if status in ("exited", "dead"):
                raise FlowError(f"{service} {status}:\n{self.c('logs', '--tail', '30', service, check=False)}")
        return all(health == "healthy" for _, health in states.values())

    # -- steps ----------------------------------------------------------------------------------------

    def up(self) -> str:
        self.c("config", "--quiet")
        if self.offline:
            self.c("build", "postgres", "redis", timeout=600)
        up = ["up", "-d"]
        if self.v2:
            up += ["--wait", "--wait-timeout", "180"]
        self.c(*up, timeout=240)
        waited = wait_for("every service to be healthy", self.all_healthy, 180)
        return f"{', '.join(SERVICES)} healthy ({'compose --wait + ' if self.v2 else ''}{waited:.0f} s polled)"

    def volumes_owned_by_image_user(self) -> str:
        owners = {}
        for service, path in (("video-processor", "/media"), ("recommendation-service", "/models")):
            # The running service's view of the named volume, created empty by `up` and initialised from the image.
            owners[path] = self.c("exec", "-T", service, "stat", "-c", "%u:%g", path).strip()
        if any(owner != IMAGE_UID for owner in owners.values()):
            raise FlowError(f"volume owners {owners}, expected {IMAGE_UID}")
        return ", ".join(f"{p} {o}" for p, o in owners.items())

    def video(self) -> str:
        clip = "/media/uploads/flow.mp4"
        self.c("run", "--rm", "--no-deps", "-T", "video-processor", "sample", clip, "--pattern", "testsrc2",
               "--size", "320x180", "--seconds", "2")  # fmt: skip
        self.c("run", "--rm", "--no-deps", "-T", "video-processor", "enqueue", clip, "--title-id", "flow",
               "--segment-seconds", "1")  # fmt: skip

        def finished() -> bool:
            return self.sql("SELECT state FROM video_jobs") in ("succeeded", "failed")

        waited = wait_for("the video job to finish", finished, 150)
        state, reason = self.sql("SELECT state, coalesce(reason, '') FROM video_jobs").split("|")
        if state != "succeeded":
            raise FlowError(f"video job {state}: {reason}")
        if self.sql("SELECT count(*) FROM catalog_titles WHERE title_id = 'flow'") != "1":
            raise FlowError("no catalog row for the processed title")
        master = self.c("exec", "-T", "video-processor", "sh", "-c",
                        "ls /media/published/titles/flow/*/master.m3u8").split()  # fmt: skip
        if not master:
            raise FlowError("no master playlist on the media volume")
        return f"job succeeded in {waited:.0f} s, catalog row, {master[0]}"

    def analytics(self) -> str:
        sent = json.loads(
            run([sys.executable, str(TOOLS_PEX), "simulate", "--sessions", "150", "--users", "40", "--titles",
                 ",".join(f"t{i:02d}" for i in range(30)), "--taste-clusters", "3",
                 "--redis-url", f"redis://127.0.0.1:{self.ports['REDIS']}/0", "--stream", "player-events", "--json"],
                300, True)  # fmt: skip
        )

        def written() -> bool:
            return int(self.sql("SELECT count(*) FROM viewing_history") or 0) >= 40

        waited = wait_for("sessions and viewing history in PostgreSQL", written, 120)
        sessions = int(self.sql("SELECT count(*) FROM sessions"))
        history = int(self.sql("SELECT count(*) FROM viewing_history"))
        if sessions == 0:
            raise FlowError("viewing history but no sessions")
        return f"{sent['events']} events -> {sessions} sessions, {history} viewing-history rows in {waited:.0f} s"

    def recommendation(self) -> str:
        # --catalog "": train on every title watched (the compose env's NFC_RECO_CATALOG would keep only the
        # one title the video step published).
        self.c("run", "--rm", "--no-deps", "-T", "recommendation-service", "train", "--history", DSN,
               "--catalog", "", "--model-dir", "/models", "--no-tune", "--skip-eval", timeout=240)  # fmt: skip
        base = f"http://127.0.0.1:{self.ports['RECO']}"

        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=5) as response:  # nosec B310 - loopback
                    return bool(response.status == 200)
            except urllib.error.HTTPError:
                return False

        waited = wait_for("the server to load the trained model", ready, 90)
        user = self.sql("SELECT user_id FROM viewing_history ORDER BY user_id LIMIT 1")
        url = f"{base}/v1/users/{user}/recommendations?n=5"
        with urllib.request.urlopen(url, timeout=10) as response:  # nosec B310 - loopback
            body = json.load(response)
        items = [i["item"] for i in body["items"]]
        if len(items) != 5:
            raise FlowError(f"expected 5 recommendations, got {body}")
        return f"model loaded {waited:.0f} s after training; {user} -> {items} ({body['strategy']})"

    def logs(self) -> None:
        print(self.c("logs", "--tail", "40", check=False), file=sys.stderr)

    def down(self) -> None:
        self.c("down", "-v", "--remove-orphans", "--timeout", "5", timeout=180, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tag", default=os.environ.get("VERSION", "latest"), help="service image tag")
    parser.add_argument(
        "--offline", action="store_true", help="PostgreSQL and Redis built from Debian packages (no registry)"
    )
    args = parser.parse_args()
    started = time.monotonic()
    flow = Flow(args.tag, args.offline)
    log(f"{' '.join(flow.base)}, project {flow.project}, tag {args.tag}{', offline servers' if args.offline else ''}")
    steps = [
        ("stack up and healthy", flow.up),
        ("volumes owned by the image user", flow.volumes_owned_by_image_user),
        ("video enqueued -> processed -> catalog", flow.video),
        ("player events -> sessions + viewing history", flow.analytics),
        ("train (compose run) -> served -> recommendation over HTTP", flow.recommendation),
    ]
    failed = False
    try:
        for number, (name, step) in enumerate(steps, 1):
            step_started = time.monotonic()
            log(f"[{number}/{len(steps)}] {name} ...")
            try:
                detail = step()
            except Exception as exc:  # noqa: BLE001  # pylint: disable=broad-except  # reported, then exit 1
                log(f"[{number}/{len(steps)}] {name}: FAILED after {time.monotonic() - step_started:.0f} s: {exc}")
                flow.logs()
                failed = True
                break
            log(f"[{number}/{len(steps)}] {name}: ok ({time.monotonic() - step_started:.0f} s) - {detail}")
    finally:
        down_started = time.monotonic()
        flow.down()
        log(f"down -v ({time.monotonic() - down_started:.0f} s)")
        log(f"{'FAILED' if failed else 'passed'} in {time.monotonic() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
