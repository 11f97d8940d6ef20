"""The AWS endpoint the deploy pex talks to during a rehearsal: moto behind a stand-in.

Every call is forwarded to the moto server, except what moto cannot model, which the stand-in
answers from two small simulations that a background ticker advances in real time:

* :class:`EcsModel` - ECS deployments: a new revision's tasks start one by one, the deployment
  completes and the old one drains; images that crash trip the circuit breaker (the deployment fails
  and ECS puts the last completed revision back); target health follows each image's profile;
  one-off tasks (RunTask/DescribeTasks) run briefly and exit with the image's code.
* :class:`TrafficModel` - the ALB: requests arrive at a steady rate and split by the *current*
  listener/rule weights; each target group's requests are served by its colour's healthy tasks
  (errors and p99 from the image's profile) or, with no healthy task there, *dropped* (the outage a
  user would see). GetMetricData is answered from these counts, per period.

Faults (:mod:`.faults`) are applied on the way in or out, and every call is logged.

Long module: the two simulations and the proxy share one clock, one lock and one call log; a rehearsal
rig, never shipped in a service image.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import random
import re
import signal
import socket
import threading
import time
import urllib.parse
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

from netflix_clone.tools.deploy_rehearsal.faults import PROTOCOLS, Fault, error_reply
from netflix_clone.tools.deploy_rehearsal.world import Profile, World

__all__ = ["Call", "EcsModel", "StandIn", "Timing", "TrafficModel"]

log = logging.getLogger("netflix_clone.tools.deploy_rehearsal")

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d+/[^/]+/([^/]+)/aws4_request")
_CLOUDFRONT_ACTIONS = (
    (re.compile(r"^POST /[\d-]+/distribution/[^/]+/invalidation$"), "CreateInvalidation"),
    (re.compile(r"^GET /[\d-]+/distribution/[^/]+/invalidation/[^/]+$"), "GetInvalidation"),
    (re.compile(r"^GET /[\d-]+/distribution/[^/]+$"), "GetDistribution"),
)


@dataclass(frozen=True)
class Timing:
    task_start_s: float = 0.08  # each task of a deployment starts this long after the previous
    circuit_breaker_s: float = 0.6  # a deployment whose tasks never start fails after this
    one_off_task_s: float = 0.3
    tick_s: float = 0.02
    requests_per_s: float = 2000.0  # per service, before the split
    history_s: float = 600.0  # traffic already served before the rehearsal began


@dataclass
class Call:
    at: float
    service: str
    action: str
    status: int
    fault: str = ""
    detail: str = ""


# ECS ---------------------------------------------------------------------------------------------
@dataclass
class _Deployment:
    id: str
    td: str
    profile: Profile
    desired: int
    running: int
    status: str = "PRIMARY"
    state: str = "IN_PROGRESS"
    reason: str = ""
    created: float = field(default_factory=time.time)
    last_step: float = field(default_factory=time.time)
    failed_tasks: int = 0

    def as_ecs(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "taskDefinition": self.td,
            "desiredCount": self.desired,
            "pendingCount": max(0, self.desired - self.running),
            "runningCount": self.running,
            "failedTasks": self.failed_tasks,
            "createdAt": self.created,
            "updatedAt": self.last_step,
            "launchType": "FARGATE",
            "rolloutState": self.state,
            "rolloutStateReason": self.reason or f"ECS deployment {self.id} {self.state.lower()}.",
        }


@dataclass
class _Service:
    name: str
    cluster: str
    deployments: list[_Deployment]
    events: list[str] = field(default_factory=list)

    @property
    def primary(self) -> _Deployment:
        return next(d for d in self.deployments if d.status == "PRIMARY")

    def healthy(self) -> int:
        return sum(d.running for d in self.deployments if d.profile.healthy and d.profile.starts)

    def tasks(self) -> int:
        return sum(d.running for d in self.deployments)


class EcsModel:
    def __init__(self, world: World, moto_ecs: Any, timing: Timing) -> None:
        self.world = world
        self.moto_ecs = moto_ecs
        self.timing = timing
        self.lock = threading.RLock()
        self.services: dict[tuple[str, str], _Service] = {}
        self.one_off: dict[str, dict[str, Any]] = {}
        for svc in world.services.values():
            for color, count in (("blue", svc.desired), ("green", 0)):
                name = f"{svc.service}-{color}"
                dep = _Deployment(
                    f"ecs-svc/{uuid.uuid4().int % 10**18}",
                    svc.initial_task_definition,
                    world.profile_of_image(svc.image("v1")),
                    count,
                    count,
                    state="COMPLETED",
                )
                self.services[(world.cluster, name)] = _Service(name, world.cluster, [dep])

    def _image_profile(self, td: str) -> Profile:
        """The behaviour of the revision's app container (the one running one of the world's images)."""
        described = self.moto_ecs.describe_task_definition(taskDefinition=td)["taskDefinition"]
        for container in described["containerDefinitions"]:
            if any(container["image"].startswith(s.registry) for s in self.world.services.values()):
                return self.world.profile_of_image(container["image"])
        return Profile()

    def find(self, cluster: str, service: str) -> Optional[_Service]:
        return self.services.get((cluster.split("/")[-1], service.split("/")[-1]))

    def on_update(self, cluster: str, service: str, td: Optional[str], desired: Optional[int]) -> None:
        with self.lock:
            svc = self.find(cluster, service)
            if svc is None:
                return
            primary = svc.primary
            if td and td != primary.td:
                primary.status = "ACTIVE"
                new = _Deployment(
                    f"ecs-svc/{uuid.uuid4().int % 10**18}",
                    td,
                    self._image_profile(td),
                    desired if desired is not None else primary.desired,
                    0,
                )
                svc.deployments.insert(0, new)
                svc.events.insert(0, f"(service {service}) has started a deployment {new.id}.")
            elif desired is not None:
                primary.desired = desired
                if primary.state == "COMPLETED" and desired > primary.running:
                    primary.last_step = time.time()

    def tick(self, now: float) -> None:
        step = self.timing.task_start_s
        with self.lock:
            for svc in self.services.values():
                primary = svc.primary
                if primary.state == "IN_PROGRESS" and not primary.profile.starts:
                    if now - primary.created >= self.timing.circuit_breaker_s:
                        self._circuit_breaker(svc, primary, now)
                    continue
                if primary.running < primary.desired and now - primary.last_step >= step:
                    primary.running += 1
                    primary.last_step = now
                elif primary.running > primary.desired and now - primary.last_step >= step / 2:
                    primary.running -= 1
                    primary.last_step = now
                if primary.running >= primary.desired:
                    draining = [d for d in svc.deployments if d is not primary and d.running > 0]
                    for old in draining:
                        if now - old.last_step >= step / 2:
                            old.running -= 1
                            old.last_step = now
                    svc.deployments = [d for d in svc.deployments if d is primary or d.running > 0]
                    if len(svc.deployments) == 1 and primary.state == "IN_PROGRESS":
                        primary.state = "COMPLETED"
                        svc.events.insert(0, f"(service {svc.name}) has reached a steady state.")

    def _circuit_breaker(self, svc: _Service, failed: _Deployment, now: float) -> None:
        failed.state, failed.status = "FAILED", "ACTIVE"
        failed.failed_tasks = max(3, failed.desired)
        failed.reason = "ECS deployment circuit breaker: tasks failed to start."
        previous = next((d for d in svc.deployments if d is not failed), None)
        back_to = previous.td if previous else failed.td
        rollback = _Deployment(
            f"ecs-svc/{uuid.uuid4().int % 10**18}",
            back_to,
            self._image_profile(back_to),
            failed.desired,
            previous.running if previous else 0,
            reason=f"ECS deployment circuit breaker: rolling back to {back_to}",
            last_step=now,
        )
        svc.deployments = [rollback, failed] + [d for d in svc.deployments if d not in (failed, previous)]
        svc.events.insert(0, f"(service {svc.name}) {failed.reason} Rolling back to {back_to}.")
        try:  # ECS itself puts the last good revision back on the service.
            self.moto_ecs.update_service(cluster=svc.cluster, service=svc.name, taskDefinition=back_to)
        except Exception as exc:  # pylint: disable=broad-except
            log.warning("stand-in: could not mirror the circuit breaker in moto: %s", exc)

    def describe(self, data: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            for item in data.get("services", []):
                svc = self.find(item.get("clusterArn", self.world.cluster), item["serviceName"])
                if svc is None:
                    continue
                item["deployments"] = [d.as_ecs() for d in svc.deployments]
                item["taskDefinition"] = svc.primary.td
                item["runningCount"] = svc.tasks()
                item["pendingCount"] = max(0, item.get("desiredCount", 0) - svc.tasks())
                item["events"] = [{"id": str(i), "message": m} for i, m in enumerate(svc.events[:5])]
        return data

    def target_health(self, target_group: str) -> list[str]:
        with self.lock:
            for svc in self.world.services.values():
                color = svc.color_of(target_group)
                if color in ("blue", "green"):
                    runtime = self.find(self.world.cluster, f"{svc.service}-{color}")
                    if runtime is None:
                        return []
                    states: list[str] = []
                    for d in runtime.deployments:
                        good = d.profile.healthy and d.profile.starts
                        states += ["healthy" if good else "unhealthy"] * d.running
                    return states
        return []

    def healthy_tasks(self, service: str, color: str) -> tuple[int, int, str]:
        """(healthy tasks, desired, task definition) of ``service``'s colour, for invariants."""
        with self.lock:
            runtime = self.find(self.world.cluster, f"{service}-{color}")
            if runtime is None:
                return 0, 0, ""
            return runtime.healthy(), runtime.primary.desired, runtime.primary.td

    def run_task(self, td: str, launch: dict[str, Any]) -> dict[str, Any]:
        arn = f"arn:aws:ecs:{self.world.region}:123456789012:task/{self.world.cluster}/{uuid.uuid4().hex}"
        profile = self._image_profile(td)
        self.one_off[arn] = {
            "td": td,
            "started": time.time(),
            "exit": profile.warmup_exit,
            "launch": launch,
        }
        return {
            "taskArn": arn,
            "taskDefinitionArn": td,
            "lastStatus": "PROVISIONING",
            "containers": [],
        }

    def describe_task(self, arn: str) -> Optional[dict[str, Any]]:
        task = self.one_off.get(arn)
        if task is None:
            return None
        done = time.time() - task["started"] >= self.timing.one_off_task_s
        return {
            "taskArn": arn,
            "taskDefinitionArn": task["td"],
            "lastStatus": "STOPPED" if done else "RUNNING",
            "containers": [{"name": "app", "exitCode": task["exit"]}] if done else [{"name": "app"}],
        }


# The load balancer's traffic ---------------------------------------------------------------------
class TrafficModel:
    """Requests per 0.1 s bucket and target group, following the live weights and task health."""

    RESOLUTION = 10  # buckets per second

    def __init__(self, world: World, ecs: EcsModel, moto_elb: Any, timing: Timing, seed: int = 7) -> None:
        self.world = world
        self.ecs = ecs
        self.moto_elb = moto_elb
        self.timing = timing
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.weights: dict[str, dict[str, int]] = {}
        self.history: list[tuple[float, dict[str, int]]] = []  # every split the route went through
        # (target group, bucket) -> [requests, errors, dropped, p99 sum, samples]
        self.buckets: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0, 0.0])
        self.dropped_total: dict[str, float] = defaultdict(float)
        self.refresh_weights()
        now = time.time()
        t = now - timing.history_s
        while t < now:  # traffic served before the rehearsal began (the pre-deploy baseline)
            self._serve(t, 0.5)
            t += 0.5
        self.last = now

    def refresh_weights(self) -> None:
        fresh = {}
        for svc in self.world.services.values():
            if svc.rule_arn:
                # Several rules share the service's traffic: the model follows the first one's split.
                actions = self.moto_elb.describe_rules(RuleArns=svc.rule_arns[:1])["Rules"][0]["Actions"]
            else:
                actions = self.moto_elb.describe_listeners(ListenerArns=[svc.listener_arn])["Listeners"][0][
                    "DefaultActions"
                ]
            split: dict[str, int] = {}
            for action in actions:
                if action.get("Type") != "forward":
                    continue
                groups = action.get("ForwardConfig", {}).get("TargetGroups")
                if groups:
                    split = {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in groups}
                else:
                    split = {action["TargetGroupArn"]: 100}
            fresh[svc.service] = split
        with self.lock:
            self.weights = fresh
            for split in fresh.values():
                if not self.history or self.history[-1][1] != split:
                    self.history.append((time.time(), dict(split)))

    def tick(self, now: float) -> None:
        dt = now - self.last
        if dt > 0:
            self._serve(now, dt)
            self.last = now

    def _serve(self, at: float, dt: float) -> None:
        bucket = int(at * self.RESOLUTION)
        with self.lock:
            for svc in self.world.services.values():
                split = self.weights.get(svc.service, {})
                total = sum(split.values()) or 1
                for tg, weight in split.items():
                    if weight <= 0:
                        continue
                    requests = self.timing.requests_per_s * dt * weight / total
                    color = svc.color_of(tg)
                    row = self.buckets[(tg, bucket)]
                    row[0] += requests
                    healthy = self._serving(svc.service, color)
                    if not healthy:
                        row[2] += requests
                        self.dropped_total[svc.service] += requests
                        continue
                    served = sum(n for _, n in healthy)
                    error_rate = sum(p.error_rate * n for p, n in healthy) / served
                    p99 = max(p.p99_ms for p, _ in healthy)
                    row[1] += requests * error_rate
                    row[3] += p99 * self.rng.uniform(0.92, 1.08)
                    row[4] += 1

    def _serving(self, service: str, color: str) -> list[tuple[Profile, int]]:
        runtime = self.ecs.find(self.world.cluster, f"{service}-{color}")
        if runtime is None:
            return []
        with self.ecs.lock:
            return [
                (d.profile, d.running)
                for d in runtime.deployments
                if d.running > 0 and d.profile.healthy and d.profile.starts
            ]

    def metric_data(self, request: dict[str, Any]) -> dict[str, Any]:
        start, end = float(request["StartTime"]), float(request["EndTime"])
        results = []
        for query in request.get("MetricDataQueries", []):
            stat = query["MetricStat"]
            metric = stat["Metric"]["MetricName"]
            period = float(stat["Period"])
            dims = {d["Name"]: d["Value"] for d in stat["Metric"].get("Dimensions", [])}
            tg = self._target_group(dims.get("TargetGroup", ""))
            stamps: list[float] = []
            values: list[float] = []
            t = start
            while t < end and tg:
                span = range(int(t * self.RESOLUTION), int(min(end, t + period) * self.RESOLUTION))
                found = (self.buckets.get((tg, b)) for b in span)
                rows: list[list[float]] = [r for r in found if r is not None and r[0] > 0]
                if rows:
                    requests = sum(r[0] for r in rows)
                    if metric == "RequestCount":
                        values.append(round(requests))
                    elif metric == "HTTPCode_Target_5XX_Count":
                        values.append(round(sum(r[1] for r in rows)))
                    elif metric == "HTTPCode_ELB_5XX_Count":
                        values.append(round(sum(r[2] for r in rows)))
                    elif metric == "TargetResponseTime":
                        samples = sum(r[4] for r in rows)
                        if samples:
                            values.append(sum(r[3] for r in rows) / samples / 1000.0)
                        else:
                            t += period
                            continue
                    stamps.append(t)
                t += period
            results.append(
                {
                    "Id": query["Id"],
                    "Label": metric,
                    "Timestamps": stamps,
                    "Values": values,
                    "StatusCode": "Complete",
                }
            )
        return {"MetricDataResults": results, "Messages": []}

    def _target_group(self, dimension: str) -> str:
        for svc in self.world.services.values():
            for tg in (svc.blue_tg, svc.green_tg):
                if tg.endswith(dimension):
                    return tg
        return ""

    def dropped(self, service: str) -> float:
        with self.lock:
            return self.dropped_total[service]


# The HTTP stand-in ----------------------------------------------------------------------------------
class StandIn:
    def __init__(self, moto_url: str, world: World, timing: Optional[Timing] = None) -> None:
        import boto3  # pylint: disable=import-outside-toplevel

        # Untyped on purpose: client names are variables here, and stubs differ between resolves.
        aws: Any = boto3

        self.moto_url = moto_url
        self.world = world
        self.timing = timing or Timing()
        kw = {"endpoint_url": moto_url, "region_name": world.region}
        self.moto_ecs = aws.client("ecs", **kw)
        self.moto_elb = aws.client("elbv2", **kw)
        self.ecs = EcsModel(world, self.moto_ecs, self.timing)
        self.traffic = TrafficModel(world, self.ecs, self.moto_elb, self.timing)
        self.faults: list[Fault] = []
        self.calls: list[Call] = []
        self.client_pid: Optional[int] = None
        self.unreachable = False
        self._resume = threading.Event()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        parsed = urllib.parse.urlparse(moto_url)
        self._moto = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._threads = [
            threading.Thread(target=self.server.serve_forever, name="standin-http", daemon=True),
            threading.Thread(target=self._tick, name="standin-ticker", daemon=True),
        ]

    def start(self) -> "StandIn":
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._resume.set()
        self.server.shutdown()
        self.server.server_close()

    def _tick(self) -> None:
        while not self._stop.wait(self.timing.tick_s):
            now = time.time()
            try:
                self.ecs.tick(now)
                self.traffic.tick(now)
            except Exception:  # pylint: disable=broad-except  # a rig bug must not hang the test
                log.exception("stand-in ticker failed")

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()
        self.unreachable = False

    def resume_client(self) -> None:
        if self.client_pid:
            try:
                os.kill(self.client_pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self._resume.set()

    def calls_of(self, service: str, action: str = "*") -> list[Call]:
        return [c for c in self.calls if c.service == service and action in ("*", c.action)]

    # Request handling -------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                standin._handle(self, body)  # pylint: disable=protected-access

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  # pylint: disable=redefined-builtin
                pass

        return Handler

    @staticmethod
    def _identify(handler: BaseHTTPRequestHandler, body: bytes) -> tuple[str, str]:
        scope = _CREDENTIAL_SCOPE.search(handler.headers.get("Authorization", ""))
        service = scope.group(1) if scope else "?"
        target = handler.headers.get("X-Amz-Target", "")
        if target:
            return service, target.rsplit(".", 1)[-1]
        if service == "cloudfront":
            line = f"{handler.command} {urllib.parse.urlparse(handler.path).path}"
            return service, next((a for p, a in _CLOUDFRONT_ACTIONS if p.match(line)), handler.command)
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        return service, (form.get("Action") or [handler.command])[0]

    def _take_fault(self, service: str, action: str, body: bytes, when: str) -> Optional[Fault]:
        with self._lock:
            for fault in self.faults:
                if fault.when == when and fault.matches(service, action, body) and fault.take():
                    return fault
        return None

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        service, action = self._identify(handler, body)
        call = Call(time.time(), service, action, 0)
        self.calls.append(call)
        if self.unreachable:
            call.fault = "unreachable"
            self._drop(handler)
            return
        fault = self._take_fault(service, action, body, "before")
        if fault is not None:
            call.fault = fault.describe()
            if self._apply(fault, handler, service, body, before=True):
                return
        status, headers, payload = self._answer(handler, service, action, body)
        call.status = status
        fault = self._take_fault(service, action, body, "after")
        if fault is not None:
            call.fault = fault.describe()
            if self._apply(fault, handler, service, body, before=False):
                return
        self._reply(handler, status, headers, payload)

    def _apply(self, fault: Fault, handler: BaseHTTPRequestHandler, service: str, body: bytes, before: bool) -> bool:
        """Act out ``fault``; True if the request is finished (no normal reply follows)."""
        kind = fault.kind
        if kind in ("kill", "term", "int", "stop") and self.client_pid:
            sig = {
                "kill": signal.SIGKILL,
                "term": signal.SIGTERM,
                "int": signal.SIGINT,
                "stop": signal.SIGSTOP,
            }[kind]
            try:
                os.kill(self.client_pid, sig)
            except ProcessLookupError:
                pass
            if kind == "kill":
                self._drop(handler)
                return True
            if kind == "stop":
                self._resume.clear()
                self._resume.wait()
            return False
        if kind in ("http500", "throttle"):
            status, headers, payload = error_reply(PROTOCOLS.get(service, "json"), kind)
            self._reply(handler, status, headers, payload)
            return True
        if kind == "reset":
            self._drop(handler)
            return True
        if kind == "hang":
            time.sleep(fault.hang_s)
            self._drop(handler)
            return True
        if kind == "empty" and before:
            queries = json.loads(body) if body else {}
            results = [
                {
                    "Id": q["Id"],
                    "Label": "",
                    "Timestamps": [],
                    "Values": [],
                    "StatusCode": "Complete",
                }
                for q in queries.get("MetricDataQueries", [])
            ]
            self._reply(handler, *self._json({"MetricDataResults": results, "Messages": []}))
            return True
        if kind == "refuse" and before:
            payload = json.dumps({"tasks": [], "failures": [{"arn": "", "reason": "RESOURCE:MEMORY"}]}).encode()
            self._reply(handler, 200, {"Content-Type": "application/x-amz-json-1.1"}, payload)
            return True
        return False

    @staticmethod
    def _drop(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        try:
            handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], payload: bytes) -> None:
        try:
            handler.send_response(status)
            for key, value in headers.items():
                if key.lower() not in (
                    "content-length",
                    "transfer-encoding",
                    "connection",
                    "date",
                    "server",
                ):
                    handler.send_header(key, value)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except OSError:
            pass  # the client is gone (killed): nothing to tell it

    def _json(self, data: Any) -> tuple[int, dict[str, str], bytes]:
        return (
            200,
            {"Content-Type": "application/x-amz-json-1.1"},
            json.dumps(data, default=str).encode(),
        )

    def _answer(
        self, handler: BaseHTTPRequestHandler, service: str, action: str, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if service == "monitoring" and action == "GetMetricData":
            if "json" not in handler.headers.get("Content-Type", ""):
                return (
                    400,
                    {},
                    b'{"__type":"InvalidRequest","message":"the stand-in speaks awsJson1_0 only"}',
                )
            return self._json(self.traffic.metric_data(json.loads(body)))
        if service == "elasticloadbalancing" and action == "DescribeTargetHealth":
            form = urllib.parse.parse_qs(body.decode())
            states = self.ecs.target_health(form.get("TargetGroupArn", [""])[0])
            members = "".join(
                f"<member><Target><Id>10.0.0.{i + 10}</Id><Port>8080</Port></Target>"
                f"<TargetHealth><State>{s}</State></TargetHealth></member>"
                for i, s in enumerate(states)
            )
            xml = (
                '<DescribeTargetHealthResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">'
                f"<DescribeTargetHealthResult><TargetHealthDescriptions>{members}</TargetHealthDescriptions>"
                "</DescribeTargetHealthResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
                "</DescribeTargetHealthResponse>"
            )
            return 200, {"Content-Type": "text/xml"}, xml.encode()
        if service == "ecs" and action == "RunTask":
            request = json.loads(body)
            launch = {
                k: request[k]
                for k in ("launchType", "networkConfiguration", "capacityProviderStrategy")
                if k in request
            }
            if request.get("launchType") == "FARGATE" and "networkConfiguration" not in request:
                return (
                    400,
                    {"x-amzn-ErrorType": "InvalidParameterException"},
                    json.dumps(
                        {
                            "__type": "InvalidParameterException",
                            "message": "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
                        }
                    ).encode(),
                )
            return self._json({"tasks": [self.ecs.run_task(request["taskDefinition"], launch)], "failures": []})
        if service == "ecs" and action == "DescribeTasks":
            request = json.loads(body)
            tasks = [t for t in (self.ecs.describe_task(a) for a in request.get("tasks", [])) if t]
            return self._json({"tasks": tasks, "failures": []})
        status, headers, payload = self._forward(handler, body)
        if status == 200 and service == "ecs" and action == "DescribeServices":
            payload = json.dumps(self.ecs.describe(json.loads(payload)), default=str).encode()
        elif status == 200 and service == "ecs" and action == "UpdateService":
            request = json.loads(body)
            self.ecs.on_update(
                request.get("cluster", self.world.cluster),
                request["service"],
                request.get("taskDefinition"),
                request.get("desiredCount"),
            )
        elif status == 200 and service == "elasticloadbalancing" and action in ("ModifyListener", "ModifyRule"):
            self.traffic.refresh_weights()
        return status, headers, payload

    def _forward(self, handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(*self._moto, timeout=30)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in ("connection", "keep-alive")}
            connection.request(handler.command, handler.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            return response.status, dict(response.getheaders()), payload
        finally:
            connection.close()
