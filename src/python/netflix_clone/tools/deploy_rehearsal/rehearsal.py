"""A deploy rehearsal: moto + the stand-in + fake Slack/Grafana + a world, and the deploy pex run
against them exactly as CI runs it (environment variables, flags, exit codes, reports).

Time is compressed (windows of about a second, polls of a tenth) so a whole matrix of faults runs
in minutes; the pex is unchanged, only its flags are shorter.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import subprocess  # nosec B404 - runs the deploy pex we are rehearsing, with fixed arguments
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional

from netflix_clone.tools.deploy_rehearsal.faults import Fault
from netflix_clone.tools.deploy_rehearsal.invariants import Expectation, Violation, check
from netflix_clone.tools.deploy_rehearsal.standin import StandIn, Timing
from netflix_clone.tools.deploy_rehearsal.world import World, build_world

__all__ = ["FAST_FLAGS", "Rehearsal", "RunResult", "rehearsal"]

# Compressed timings: every wait of a real deploy, in seconds instead of minutes.
FAST_FLAGS = (
    "--poll-s", "0.05", "--rollout-timeout-s", "6", "--recovery-timeout-s", "4",
    "--canary-minutes", "0.02", "--step-minutes", "0.02", "--bake-minutes", "0.02",
    "--baseline-minutes", "1", "--metric-period-s", "1", "--lock-ttl-s", "40",
    "--aws-timeout-s", "1", "--aws-max-attempts", "3",
)  # fmt: skip


@dataclass
class RunResult:
    args: list[str]
    exit_code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def json(self) -> dict[str, Any]:
        try:
            data = json.loads(self.stdout)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def transcript(self) -> str:
        outcome = f"exit {self.exit_code} ({self.seconds:.1f} s)"
        return f"$ deploy {' '.join(self.args)}\n{self.stderr}{self.stdout}{outcome}\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class _Recorder:
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    fail_paths: set[str] = field(default_factory=set)


@contextmanager
def _fake_http(secret_path: str) -> Iterator[tuple[str, _Recorder]]:
    """Slack's webhook at ``secret_path`` and Grafana's API, answering OK and recording requests."""
    recorder = _Recorder()

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            recorder.requests.append((self.command, self.path, body))
            if self.path in recorder.fail_paths:
                status, payload = 500, b'{"message": "injected"}'
            elif self.path.startswith("/api/annotations"):
                status, payload = 200, b'{"id": 1}'
            elif self.path.startswith("/api/dashboards"):
                status, payload = 200, b'{"status": "success", "version": 1}'
            elif self.path == secret_path:
                status, payload = 200, b"ok"
            else:
                status, payload = 404, b"{}"
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = _any

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  # pylint: disable=redefined-builtin
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recorder
    finally:
        server.shutdown()
        server.server_close()


class Rehearsal:
    """One world behind one stand-in; run the pex against it as often as a scenario needs."""

    def __init__(
        self,
        deploy_pex: Path,
        moto_url: str,
        http_url: str,
        recorder: _Recorder,
        secret_path: str,
        workdir: Path,
        *,
        service: str = "recommendation-service",
        routing: str = "listener",
        timing: Optional[Timing] = None,
        python: Optional[str] = None,
        services: tuple[str, ...] = (),
        rules: int = 1,
        sidecar: bool = False,
    ) -> None:
        self.deploy_pex = deploy_pex
        self.python = python or sys.executable
        self.service = service
        self.workdir = workdir
        self.recorder = recorder
        self.world: World = build_world(moto_url, services or (service,), routing=routing, rules=rules, sidecar=sidecar)
        self.standin = StandIn(moto_url, self.world, timing).start()
        self.svc = self.world.services[service]
        self.slack_webhook = f"{http_url}{secret_path}"
        self.grafana_url = http_url
        self.secrets = {
            "NFC_DEPLOY_SLACK_WEBHOOK": self.slack_webhook,
            "NFC_DEPLOY_GRAFANA_API_KEY": "glsa_" + secrets.token_hex(16),  # pragma: allowlist secret
            "AWS_SECRET_ACCESS_KEY": secrets.token_hex(20),
        }
        self.runs: list[RunResult] = []
        self.process: Optional[subprocess.Popen[str]] = None
        self.report_dir = workdir / "reports"

    def close(self) -> None:
        self.standin.stop()

    # Running the pex -----------------------------------------------------------------------------
    def env(self, region_var: str = "AWS_REGION") -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", str(self.workdir)),
            "AWS_ENDPOINT_URL": self.standin.url,
            "AWS_ACCESS_KEY_ID": "AKIAREHEARSAL",
            "AWS_SECRET_ACCESS_KEY": self.secrets["AWS_SECRET_ACCESS_KEY"],
            region_var: self.world.region,
            "NFC_DEPLOY_LOCK_TABLE": self.world.lock_table,
            "NFC_DEPLOY_SLACK_WEBHOOK": self.slack_webhook,
            "NFC_DEPLOY_GRAFANA_API_KEY": self.secrets["NFC_DEPLOY_GRAFANA_API_KEY"],
            "NFC_DEPLOY_GRAFANA_URL": self.grafana_url,
            "NFC_DEPLOY_LB_LISTENER_ARN": self.svc.listener_arn,
            "NFC_DEPLOY_BLUE_TARGET_GROUP_ARN": self.svc.blue_tg,
            "NFC_DEPLOY_GREEN_TARGET_GROUP_ARN": self.svc.green_tg,
            "NFC_DEPLOY_CLOUDFRONT_DISTRIBUTION_ID": self.world.distribution_id,
            "PEX_ROOT": os.environ.get("PEX_ROOT", str(Path.home() / ".pex")),
        }
        if self.svc.rule_arn:
            env["NFC_DEPLOY_LB_RULE_ARN"] = self.svc.rule_arn
        return env

    def command(self, command: str, *extra: str, fast: bool = True) -> list[str]:
        args = [command, "--service", self.service]
        if command in ("production", "rollback", "staging"):
            args += [
                "--cluster",
                self.world.cluster,
                "--report-dir",
                str(self.report_dir),
                "--json",
            ]
            if fast:
                args += list(FAST_FLAGS)
            if command != "staging":
                args += ["--min-requests", "50", "--min-latency-samples", "1"]
        elif command in ("status", "break-lock"):
            args += ["--json"]
        return args + list(extra)

    def start(self, args: list[str], env: Optional[dict[str, str]] = None) -> subprocess.Popen[str]:
        process = subprocess.Popen(  # nosec B603 - our own pex, argument list, no shell
            [self.python, str(self.deploy_pex), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env or self.env(),
            cwd=self.workdir,
        )
        self.standin.client_pid = process.pid
        self.process = process
        return process

    def finish(
        self, process: subprocess.Popen[str], args: list[str], started: float, timeout: float = 120
    ) -> RunResult:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            stderr += f"\n[rehearsal] killed after {timeout:.0f} s\n"
        result = RunResult(args, process.returncode, stdout, stderr, time.monotonic() - started)
        self.runs.append(result)
        return result

    def run(
        self,
        command: str,
        *extra: str,
        faults: tuple[Fault, ...] = (),
        env: Optional[dict[str, str]] = None,
        fast: bool = True,
    ) -> RunResult:
        self.standin.clear_faults()
        self.standin.inject(*faults)
        args = self.command(command, *extra, fast=fast)
        started = time.monotonic()
        result = self.finish(self.start(args, env), args, started)
        self.standin.clear_faults()
        return result

    def deploy(self, tag: str, *extra: str, faults: tuple[Fault, ...] = ()) -> RunResult:
        return self.run("production", "--image", self.svc.image(tag), *extra, faults=faults)

    def resume(self, *extra: str, faults: tuple[Fault, ...] = ()) -> RunResult:
        return self.run("production", "--resume", *extra, faults=faults)

    def rollback(self, *extra: str, faults: tuple[Fault, ...] = ()) -> RunResult:
        return self.run("rollback", *extra, faults=faults)

    def status(self) -> dict[str, Any]:
        return self.run("status").json

    def lock_token(self) -> Optional[str]:
        """The lease token `deploy status` would show, read straight from the table."""
        import boto3  # pylint: disable=import-outside-toplevel

        client = boto3.client("dynamodb", endpoint_url=self.standin.moto_url, region_name=self.world.region)
        try:
            item = client.get_item(
                TableName=self.world.lock_table,
                Key={"pk": {"S": f"production#{self.service}"}},
                ConsistentRead=True,
            ).get("Item", {})
        except client.exceptions.ResourceNotFoundException:
            return None
        return item["lock_token"]["S"] if "lock_token" in item else None

    def break_dead_lock(self, via_status: bool = False) -> Optional[RunResult]:
        """What an operator does after a runner died holding the lock: `status`, then `break-lock`
        with the token it shows (``via_status=False`` reads the token directly, to save a run)."""
        if via_status:
            lock = self.status().get("lock")
            token = lock["token"] if lock else None
        else:
            token = self.lock_token()
        if not token:
            return None
        return self.run("break-lock", "--token", token, "--force")

    def signal_client(self, signum: int) -> None:
        if self.standin.client_pid:
            os.kill(self.standin.client_pid, signum)

    # Checking ------------------------------------------------------------------------------------
    def check(self, expect: Expectation) -> list[Violation]:
        return check(self, expect)

    def outputs(self) -> str:
        """Everything the runs printed or wrote (for the secrets check)."""
        texts = [r.stdout + r.stderr for r in self.runs]
        if self.report_dir.exists():
            texts += [p.read_text(encoding="utf-8", errors="replace") for p in sorted(self.report_dir.iterdir())]
        return "\n".join(texts)


@contextmanager
def rehearsal(
    deploy_pex: Path,
    workdir: Path,
    *,
    service: str = "recommendation-service",
    routing: str = "listener",
    moto_url: Optional[str] = None,
    timing: Optional[Timing] = None,
    python: Optional[str] = None,
    services: tuple[str, ...] = (),
    rules: int = 1,
    sidecar: bool = False,
) -> Iterator[Rehearsal]:
    """A rehearsal with its own moto server (or a shared one at ``moto_url``)."""
    server = None
    if moto_url is None:
        from moto.server import ThreadedMotoServer  # pylint: disable=import-outside-toplevel

        # werkzeug logs every request at INFO to stderr unless told otherwise: the transcript is the
        # deploy's own output, not moto's access log.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        port = _free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        moto_url = f"http://127.0.0.1:{port}"
    secret_path = f"/services/T0REHEARSE/B0REHEARSE/{secrets.token_hex(12)}"
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")  # nosec B105 - moto accepts any key
    try:
        with _fake_http(secret_path) as (http_url, recorder):
            rig = Rehearsal(
                deploy_pex, moto_url, http_url, recorder, secret_path, workdir,
                service=service, routing=routing, timing=timing, python=python,
                services=services, rules=rules, sidecar=sidecar,
            )  # fmt: skip
            try:
                yield rig
            finally:
                rig.close()
                if rig.process is not None and rig.process.poll() is None:
                    rig.process.kill()  # ours, still running: never a recycled PID
                    rig.process.communicate()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if server is not None:
            server.stop()
