"""An AWS account in moto (server mode) for deploy tests, and the scripted gateway in front of it.

moto keeps the real API state (task definitions, services, listener weights, DynamoDB items,
invalidations). What moto cannot simulate - ECS deployment progress, target health, CloudWatch
request counts and percentiles - is scripted per test through :class:`ScriptedGateway`.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Optional

import boto3

from netflix_clone.deploy.adapters.aws_gateway import Boto3Gateway, DeploymentInfo, Route, ServiceStatus
from netflix_clone.deploy.adapters.lock import DeployLock
from netflix_clone.deploy.adapters.notify import SlackNotifier
from netflix_clone.deploy.domain.analysis import WindowMetrics
from netflix_clone.deploy.rollout.context import RolloutContext, Waits
from netflix_clone.deploy.rollout.rollback import ProductionTarget
from netflix_clone_testing.http_fakes import FakeHttp


class SimulatedCrash(SystemExit):
    """The CI runner vanished: nothing after this point runs, not even rollback.

    (A SystemExit, so the rollout's catch-all recovery lets it through as it does a real exit.)"""


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


def healthy_metrics(
    requests_per_window: int = 2000, error_rate: float = 0.001, p99_ms: float = 120.0, seed: int = 0
) -> Callable[[str, int], WindowMetrics]:
    """Metrics per (colour, green weight): traffic split by weight, both colours equally good."""
    rng = random.Random(seed)

    def metrics(color: str, green_weight: int) -> WindowMetrics:
        share = green_weight if color == "green" else 100 - green_weight
        requests = requests_per_window * share // 100
        if requests == 0:
            return WindowMetrics(0, 0, ())
        p99 = tuple(p99_ms * rng.uniform(0.9, 1.1) for _ in range(5))
        return WindowMetrics(requests, int(requests * error_rate), p99)

    return metrics


@dataclass
class ScriptedGateway:
    real: Boto3Gateway
    world: "World"
    # service -> rollout states to go through after its next update_service with a new revision
    rollout: dict[str, list[str]] = field(default_factory=dict)
    rollout_reason: dict[str, str] = field(default_factory=dict)
    health: dict[str, list[str]] = field(default_factory=dict)  # colour -> target states once rolled out
    metrics: Callable[[str, int], WindowMetrics] = field(default_factory=healthy_metrics)
    crash_on_weight: Optional[int] = None  # raise SimulatedCrash right after shifting to this weight
    task_exit: int = 0
    calls: list[tuple[str, Any]] = field(default_factory=list)
    _pending: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def update_service(
        self, cluster: str, service: str, task_definition: Optional[str], desired: Optional[int]
    ) -> None:
        before = self.real.service_status(cluster, service)
        self.calls.append(("update_service", (service, task_definition, desired)))
        self.real.update_service(cluster, service, task_definition, desired)
        new = task_definition or before.task_definition
        scaled_up = desired is not None and desired > before.desired
        if (task_definition and task_definition != before.task_definition) or scaled_up:
            # A scripted rollout is used once: the rollback that follows it rolls out normally.
            states = list(self.rollout.pop(service, ["IN_PROGRESS", "IN_PROGRESS", "COMPLETED"]))
            self._pending[service] = {"old": before.task_definition, "new": new, "states": states}

    def service_status(self, cluster: str, service: str) -> ServiceStatus:
        real = self.real.service_status(cluster, service)
        pending = self._pending.get(service)
        if not real.exists:
            return real
        if pending is None:
            # moto starts no tasks: a service nobody updated is in its steady state.
            steady = DeploymentInfo(
                "ecs-svc/steady", "PRIMARY", real.task_definition or "", "COMPLETED", "",
                real.desired, real.desired,
            )  # fmt: skip
            return replace(real, deployments=(steady,), running=real.desired)
        states = pending["states"]
        state = states.pop(0) if len(states) > 1 else states[0]
        desired = real.desired
        new, old = pending["new"], pending["old"]
        reason = self.rollout_reason.get(service, "")
        deployments: tuple[DeploymentInfo, ...]
        if state == "COMPLETED":
            deployments = (DeploymentInfo("ecs-svc/new", "PRIMARY", new, "COMPLETED", "", desired, desired),)
            return ServiceStatus(
                True, new, desired, deployments, running=desired,
                target_groups=real.target_groups, launch=real.launch,
            )  # fmt: skip
        if state == "FAILED":
            deployments = (
                DeploymentInfo("ecs-svc/new", "PRIMARY", new, "FAILED", reason, desired, 0, failed_tasks=3),
                DeploymentInfo("ecs-svc/old", "ACTIVE", old, "COMPLETED", "", desired, desired),
            )
            return ServiceStatus(True, new, desired, deployments)
        if state == "ROLLED_BACK":  # ECS's circuit breaker put the old revision back in charge
            deployments = (
                DeploymentInfo("ecs-svc/rollback", "PRIMARY", old, "IN_PROGRESS", reason, desired, desired),
                DeploymentInfo("ecs-svc/new", "ACTIVE", new, "IN_PROGRESS", "", 0, 0, failed_tasks=3),
            )
            return ServiceStatus(True, old, desired, deployments, (f"(service {service}) {reason}",))
        deployments = (
            DeploymentInfo("ecs-svc/new", "PRIMARY", new, "IN_PROGRESS", "", desired, max(0, desired - 1)),
            DeploymentInfo("ecs-svc/old", "ACTIVE", old, "COMPLETED", "", desired, 1),
        )
        return ServiceStatus(True, new, desired, deployments)

    def target_health(self, target_group_arn: str) -> list[str]:
        color = self.world.color_of(target_group_arn)
        states = self.health.get(color, ["healthy"])
        service = f"{self.world.service}-{color}"
        desired = self.real.service_status(self.world.cluster, service).desired
        return [states[0]] * max(1, desired)

    def set_weights(self, route: Route, weights: dict[str, int]) -> None:
        self.calls.append(("set_weights", {self.world.color_of(k): v for k, v in weights.items()}))
        self.real.set_weights(route, weights)
        green = weights.get(self.world.green_tg, 0)
        if self.crash_on_weight is not None and green == self.crash_on_weight:
            self.crash_on_weight = None
            raise SimulatedCrash(f"runner lost after shifting to {green}%")

    def window_metrics(self, target_group_arn: str, start: float, end: float, period_s: int) -> WindowMetrics:
        weights = self.real.route_weights(Route(self.world.listener_arn))
        color = self.world.color_of(target_group_arn)
        # Traffic to the colour that is not live: weight of the green target group here.
        green_share = weights.get(self.world.green_tg, 0)
        return self.metrics(color, green_share)

    def run_task(
        self,
        cluster: str,
        task_definition: str,
        container: str,
        command: list[str],
        launch: dict[str, Any],
    ) -> str:
        self.calls.append(("run_task", (task_definition, container, command, launch)))
        return f"arn:aws:ecs:us-east-1:123456789012:task/{cluster}/{uuid.uuid4().hex}"

    def task_exit_code(self, cluster: str, task_arn: str) -> Optional[int]:
        return self.task_exit


@dataclass
class World:
    cluster: str
    service: str
    listener_arn: str
    blue_tg: str
    green_tg: str
    image: str
    table: str
    distribution_id: str
    task_definition: str

    def color_of(self, tg: str) -> str:
        return "blue" if tg == self.blue_tg else "green"


def build_world(endpoint: str, service: str = "recommendation-service", desired: int = 2) -> World:
    region = "us-east-1"
    suffix = uuid.uuid4().hex[:6]
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name=region)
    ecs = boto3.client("ecs", endpoint_url=endpoint, region_name=region)
    ecr = boto3.client("ecr", endpoint_url=endpoint, region_name=region)
    elb = boto3.client("elbv2", endpoint_url=endpoint, region_name=region)
    cloudfront = boto3.client("cloudfront", endpoint_url=endpoint, region_name=region)

    repo = f"netflix-clone/{service}-{suffix}"
    registry = ecr.create_repository(repositoryName=repo)["repository"]["repositoryUri"]
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 10,
            "digest": "sha256:" + "a" * 64,
        },
        "layers": [],
    }
    ecr.put_image(repositoryName=repo, imageManifest=json.dumps(manifest), imageTag="v2")

    cluster = f"netflix-clone-production-{suffix}"
    ecs.create_cluster(clusterName=cluster)
    td = ecs.register_task_definition(
        family=service,
        containerDefinitions=[{"name": service, "image": f"{registry}:v1", "memory": 512, "essential": True}],
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
    )["taskDefinition"]["taskDefinitionArn"]

    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{region}{az}")["Subnet"]["SubnetId"]
        for i, az in enumerate("ab")
    ]
    lb = elb.create_load_balancer(Name=f"lb-{suffix}", Subnets=subnets, Type="application")["LoadBalancers"][0][
        "LoadBalancerArn"
    ]
    tgs = {
        color: elb.create_target_group(
            Name=f"{color}-{suffix}", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip"
        )["TargetGroups"][0]["TargetGroupArn"]
        for color in ("blue", "green")
    }
    listener = elb.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": tgs["blue"], "Weight": 100},
                        {"TargetGroupArn": tgs["green"], "Weight": 0},
                    ]
                },
            }
        ],
    )["Listeners"][0]["ListenerArn"]
    sg = ec2.create_security_group(GroupName=f"svc-{suffix}", Description="svc", VpcId=vpc)["GroupId"]
    for color, count in (("blue", desired), ("green", 0)):
        ecs.create_service(
            cluster=cluster,
            serviceName=f"{service}-{color}",
            taskDefinition=td,
            desiredCount=count,
            launchType="FARGATE",
            networkConfiguration={"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [sg]}},
            loadBalancers=[{"targetGroupArn": tgs[color], "containerName": service, "containerPort": 8080}],
        )
    distribution = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": suffix,
            "Comment": "netflix-clone test",
            "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{
                "Id": "o1", "DomainName": "origin.example.internal",
                "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"},
            }]},
            "DefaultCacheBehavior": {"TargetOriginId": "o1", "ViewerProtocolPolicy": "allow-all", "MinTTL": 0,
                                     "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}}},
        }
    )["Distribution"]["Id"]  # fmt: skip
    return World(
        cluster,
        service,
        listener,
        tgs["blue"],
        tgs["green"],
        f"{registry}:v2",
        f"deploys-{suffix}",
        distribution,
        td,
    )


@dataclass
class Rig:
    world: World
    gateway: ScriptedGateway
    clock: FakeClock
    lock: DeployLock
    ctx: RolloutContext
    target: ProductionTarget
    http: FakeHttp

    def weights(self) -> dict[str, int]:
        raw = self.gateway.real.route_weights(Route(self.world.listener_arn))
        return {self.world.color_of(k): v for k, v in raw.items()}

    def desired(self, color: str) -> int:
        return self.gateway.real.service_status(self.world.cluster, f"{self.world.service}-{color}").desired

    def task_definition(self, color: str) -> str:
        status = self.gateway.real.service_status(self.world.cluster, f"{self.world.service}-{color}")
        assert status.task_definition is not None
        return status.task_definition

    def slack_texts(self) -> list[str]:
        return [c.body["text"] for c in self.http.calls("POST", "/slack")]

    def key(self) -> str:
        return self.lock.key("production", self.world.service)

    def another_context(self, owner: str) -> RolloutContext:
        return context_for(self.gateway, self.lock, self.clock, self.http, owner)


def context_for(
    gateway: ScriptedGateway, lock: DeployLock, clock: FakeClock, http: FakeHttp, owner: str
) -> RolloutContext:
    # The fake clock jumps minutes at a time while the lease keeper renews on real time: a lease
    # longer than any test keeps the two from disagreeing (lease expiry is tested on its own).
    return RolloutContext(
        gateway=gateway,
        lock=lock,
        clock=clock,
        notifier=SlackNotifier(http.url + "/slack", sleep=clock.sleep),
        owner=owner,
        lock_ttl_s=1e9,
        waits=Waits(rollout_timeout_s=600, poll_s=5, recovery_timeout_s=60),
    )


def build_rig(endpoint: str, http: FakeHttp, owner: str = "ci-run-1") -> Rig:
    """A moto world, the scripted gateway in front of it, a fake clock, a lock table and a rollout
    context that notifies the fake Slack on ``http``."""
    world = build_world(endpoint)
    clock = FakeClock()
    gateway = ScriptedGateway(Boto3Gateway("us-east-1"), world)
    lock = DeployLock(world.table, boto3.client("dynamodb", region_name="us-east-1"), clock=clock.now)
    lock.ensure_table()
    ctx = context_for(gateway, lock, clock, http, owner)
    target = ProductionTarget(world.cluster, world.service, world.listener_arn, world.blue_tg, world.green_tg)
    return Rig(world, gateway, clock, lock, ctx, target, http)
