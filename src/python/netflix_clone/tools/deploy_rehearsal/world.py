"""A production account in miniature, created in moto: what the deploy pex expects to find in AWS.

Per service: an ECR repository with one image per behaviour (``v1`` live, ``v2`` good, and tags
that fail in chosen ways), an ECS ``<service>-blue`` (2 tasks, live) and ``<service>-green`` (0 tasks)
on Fargate/awsvpc, each registered in its own target group, and the traffic route: its own listener
(``routing="listener"``) or a rule on a shared listener whose default action forwards to another
application (``routing="rule"``, so a deploy touching the default action is caught).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["PROFILES", "Profile", "ServiceWorld", "World", "build_world"]


@dataclass(frozen=True)
class Profile:
    """How tasks of an image behave: what the traffic model and the ECS model make of them."""

    error_rate: float = 0.001
    p99_ms: float = 120.0
    starts: bool = True  # False: tasks fail to start; ECS's circuit breaker rolls back
    healthy: bool = True  # False: tasks run but fail the target group's health check
    warmup_exit: int = 0  # exit code of a one-off task (cache warm-up) on this image


PROFILES: dict[str, Profile] = {
    "v1": Profile(),
    "v2": Profile(),
    "v2-5xx": Profile(error_rate=0.08),
    "v2-slow": Profile(p99_ms=320.0),
    "v2-unhealthy": Profile(healthy=False),
    "v2-crash": Profile(starts=False),
    "v2-warmup-fails": Profile(warmup_exit=3),
}


@dataclass
class ServiceWorld:
    service: str
    repository: str
    registry: str  # "<account>.dkr.ecr.<region>.amazonaws.com/<repository>"
    digests: dict[str, str]  # tag -> sha256 digest
    blue_tg: str
    green_tg: str
    listener_arn: str
    rule_arn: str  # "" when the service has its own listener; several are comma-separated
    initial_task_definition: str
    desired: int

    def image(self, tag: str) -> str:
        return f"{self.registry}:{tag}"

    @property
    def rule_arns(self) -> list[str]:
        return [r for r in self.rule_arn.split(",") if r]

    def color_of(self, target_group: str) -> str:
        return "blue" if target_group == self.blue_tg else "green" if target_group == self.green_tg else "?"


@dataclass
class World:
    region: str
    cluster: str
    lock_table: str
    distribution_id: str
    subnets: list[str]
    security_group: str
    load_balancer: str
    other_app_tg: str  # the shared listener's default action (routing="rule")
    routing: str
    services: dict[str, ServiceWorld] = field(default_factory=dict)

    def profile_of_image(self, image: str) -> Profile:
        """The behaviour of an image reference (by tag or by digest)."""
        for svc in self.services.values():
            for tag, digest in svc.digests.items():
                if image.endswith(f"@{digest}") or image == svc.image(tag):
                    return PROFILES.get(tag, Profile())
        return Profile()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _manifest(tag: str) -> str:
    # A distinct config digest per tag, so each tag resolves to its own image digest.
    config_digest = "sha256:" + uuid.uuid5(uuid.NAMESPACE_URL, tag).hex * 2
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 10,
                "digest": config_digest,
            },
            "layers": [],
        }
    )


def build_world(
    endpoint: str,
    services: tuple[str, ...] = ("recommendation-service",),
    *,
    routing: str = "listener",
    desired: int = 2,
    region: str = "us-east-1",
    rules: int = 1,
    sidecar: bool = False,
) -> World:
    """Create everything in the moto server at ``endpoint`` under unique names."""
    import boto3  # pylint: disable=import-outside-toplevel

    # Untyped on purpose: client names are variables here, and stubs differ between resolves.
    aws: Any = boto3

    kw = {"endpoint_url": endpoint, "region_name": region}
    ec2, ecs, ecr = (aws.client(n, **kw) for n in ("ec2", "ecs", "ecr"))
    elb, cloudfront = aws.client("elbv2", **kw), aws.client("cloudfront", **kw)
    suffix = uuid.uuid4().hex[:6]

    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{region}{az}")["Subnet"]["SubnetId"]
        for i, az in enumerate("ab")
    ]
    sg = ec2.create_security_group(GroupName=f"svc-{suffix}", Description="services", VpcId=vpc)["GroupId"]
    lb = elb.create_load_balancer(Name=f"lb-{suffix}", Subnets=subnets, Type="application")["LoadBalancers"][0][
        "LoadBalancerArn"
    ]
    other = elb.create_target_group(Name=f"other-{suffix}", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip")[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    shared_listener = ""
    if routing == "rule":
        shared_listener = elb.create_listener(
            LoadBalancerArn=lb,
            Protocol="HTTP",
            Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": other}],
        )["Listeners"][0]["ListenerArn"]
    cluster = f"netflix-clone-production-{suffix}"
    ecs.create_cluster(clusterName=cluster)
    distribution = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": suffix, "Comment": "rehearsal", "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{
                "Id": "o1", "DomainName": "origin.example.internal",
                "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"},
            }]},
            "DefaultCacheBehavior": {"TargetOriginId": "o1", "ViewerProtocolPolicy": "allow-all", "MinTTL": 0,
                                     "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}}},
        }
    )["Distribution"]["Id"]  # fmt: skip
    world = World(region, cluster, f"deploys-{suffix}", distribution, subnets, sg, lb, other, routing)
    # The lock table exists before any deploy, as `deploy init` leaves it.
    aws.client("dynamodb", **kw).create_table(
        TableName=world.lock_table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    network = {
        "awsvpcConfiguration": {
            "subnets": subnets,
            "securityGroups": [sg],
            "assignPublicIp": "DISABLED",
        }
    }
    for index, service in enumerate(services):
        repository = f"netflix-clone-{suffix}/{service}"
        registry = ecr.create_repository(repositoryName=repository)["repository"]["repositoryUri"]
        digests = {}
        for tag in PROFILES:
            manifest = _manifest(f"{suffix}/{service}/{tag}")
            digests[tag] = ecr.put_image(
                repositoryName=repository,
                imageManifest=manifest,
                imageTag=tag,
                imageDigest="sha256:" + hashlib.sha256(manifest.encode()).hexdigest(),
            )["image"]["imageId"]["imageDigest"]
        tgs = {
            color: elb.create_target_group(
                Name=f"{color[0]}{index}-{suffix}",
                Protocol="HTTP",
                Port=8080,
                VpcId=vpc,
                TargetType="ip",
            )["TargetGroups"][0]["TargetGroupArn"]
            for color in ("blue", "green")
        }
        forward = {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [
                    {"TargetGroupArn": tgs["blue"], "Weight": 100},
                    {"TargetGroupArn": tgs["green"], "Weight": 0},
                ]
            },
        }
        rule = ""
        if routing == "rule":
            listener = shared_listener
            rule = ",".join(
                elb.create_rule(
                    ListenerArn=listener,
                    Priority=10 + 10 * index + n,
                    Conditions=[{"Field": "host-header", "Values": [f"{service}-{n}.example.internal"]}],
                    Actions=[forward],
                )["Rules"][0]["RuleArn"]
                for n in range(rules)
            )
        else:
            listener = elb.create_listener(
                LoadBalancerArn=lb, Protocol="HTTP", Port=8081 + index, DefaultActions=[forward]
            )["Listeners"][0]["ListenerArn"]
        app = {"name": service, "image": f"{registry}:v1", "memory": 512, "essential": True}
        proxy = {
            "name": "envoy",
            "image": "envoyproxy/envoy:v1.30",
            "memory": 128,
            "essential": True,
        }
        td = ecs.register_task_definition(
            family=f"{service}-{suffix}",
            containerDefinitions=[proxy, app] if sidecar else [app],
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="256",
            memory="512",
        )["taskDefinition"]["taskDefinitionArn"]
        for color, count in (("blue", desired), ("green", 0)):
            ecs.create_service(
                cluster=cluster,
                serviceName=f"{service}-{color}",
                taskDefinition=td,
                desiredCount=count,
                launchType="FARGATE",
                networkConfiguration=network,
                loadBalancers=[{"targetGroupArn": tgs[color], "containerName": service, "containerPort": 8080}],
            )
        world.services[service] = ServiceWorld(
            service,
            repository,
            registry,
            digests,
            tgs["blue"],
            tgs["green"],
            listener,
            rule,
            td,
            desired,
        )
    return world
