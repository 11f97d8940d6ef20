"""The narrow interface between the deploy logic and AWS, and its boto3 implementation.

Everything the orchestrator asks of AWS goes through :class:`CloudGateway`. Tests run the boto3
implementation against moto in server mode and wrap it where moto cannot simulate (ECS deployment
progress, target health, latency percentiles) with scripted state sequences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Protocol

import boto3

from netflix_clone.deploy.domain.analysis import WindowMetrics

__all__ = ["Boto3Gateway", "CloudGateway", "DeploymentInfo", "GatewayError", "ServiceStatus"]


class GatewayError(RuntimeError):
    pass


@dataclass(frozen=True)
class DeploymentInfo:
    id: str
    status: str  # PRIMARY | ACTIVE | INACTIVE
    task_definition: str
    rollout_state: str  # IN_PROGRESS | COMPLETED | FAILED
    rollout_reason: str
    desired: int
    running: int
    failed_tasks: int = 0


@dataclass(frozen=True)
class ServiceStatus:
    exists: bool
    task_definition: Optional[str]
    desired: int
    deployments: tuple[DeploymentInfo, ...]
    events: tuple[str, ...] = ()

    @property
    def primary(self) -> Optional[DeploymentInfo]:
        return next((d for d in self.deployments if d.status == "PRIMARY"), None)


class CloudGateway(Protocol):
    def resolve_image(self, image: str) -> str:
        ...

    def service_status(self, cluster: str, service: str) -> ServiceStatus:
        ...

    def task_definition(self, arn: str) -> dict[str, Any]:
        ...

    def register_revision(self, base_arn: str, image: str, container: Optional[str]) -> str:
        ...

    def update_service(
        self, cluster: str, service: str, task_definition: Optional[str], desired: Optional[int]
    ) -> None:
        ...

    def target_health(self, target_group_arn: str) -> list[str]:
        ...

    def listener_weights(self, listener_arn: str) -> dict[str, int]:
        ...

    def set_weights(
        self, listener_arn: str, weights: dict[str, int], rule_arns: tuple[str, ...] = ()
    ) -> None:
        ...

    def window_metrics(
        self, target_group_arn: str, start: float, end: float, period_s: int
    ) -> WindowMetrics:
        ...

    def create_invalidation(self, distribution_id: str, paths: list[str], reference: str) -> str:
        ...

    def invalidation_status(self, distribution_id: str, invalidation_id: str) -> str:
        ...

    def run_task(
        self, cluster: str, task_definition: str, container: str, command: list[str]
    ) -> str:
        ...

    def task_exit_code(self, cluster: str, task_arn: str) -> Optional[int]:
        ...


def _dimension(arn: str, marker: str) -> str:
    """CloudWatch's dimension value for an ELB ARN: the part after ``:loadbalancer/`` or ``:``."""
    return arn.split(marker, 1)[1] if marker in arn else arn


class Boto3Gateway:
    def __init__(self, region: Optional[str] = None, session: Any = None) -> None:
        session = session or boto3.session.Session(region_name=region)
        self.ecr = session.client("ecr")
        self.ecs = session.client("ecs")
        self.elbv2 = session.client("elbv2")
        self.cloudwatch = session.client("cloudwatch")
        self.cloudfront = session.client("cloudfront")

    # Images -------------------------------------------------------------------------------------
    def resolve_image(self, image: str) -> str:
        """``registry/repo:tag`` -> ``registry/repo@sha256:...``: tasks must not drift if the tag moves."""
        if "@sha256:" in image:
            return image
        name, _, tag = image.rpartition(":")
        if not name or "/" in tag:
            name, tag = image, "latest"
        repository = name.split("/", 1)[1] if "." in name.split("/", 1)[0] else name
        try:
            found = self.ecr.describe_images(
                repositoryName=repository, imageIds=[{"imageTag": tag}]
            )["imageDetails"]
        except self.ecr.exceptions.ImageNotFoundException:
            raise GatewayError(f"image {image} not found in ECR repository {repository}") from None
        except self.ecr.exceptions.RepositoryNotFoundException:
            raise GatewayError(f"ECR repository {repository} does not exist") from None
        if not found:
            raise GatewayError(f"image {image} not found in ECR")
        return f"{name}@{found[0]['imageDigest']}"

    # ECS ----------------------------------------------------------------------------------------
    def service_status(self, cluster: str, service: str) -> ServiceStatus:
        described = self.ecs.describe_services(cluster=cluster, services=[service])
        services = [s for s in described.get("services", []) if s.get("status") != "INACTIVE"]
        if not services:
            return ServiceStatus(False, None, 0, ())
        svc = services[0]
        deployments = []
        for d in svc.get("deployments", []):
            running, desired = int(d.get("runningCount", 0)), int(d.get("desiredCount", 0))
            # moto omits rolloutState; a deployment whose tasks all run is complete.
            state = d.get("rolloutState") or ("COMPLETED" if running >= desired else "IN_PROGRESS")
            deployments.append(
                DeploymentInfo(
                    id=d["id"],
                    status=d["status"],
                    task_definition=d["taskDefinition"],
                    rollout_state=state,
                    rollout_reason=d.get("rolloutStateReason", ""),
                    desired=desired,
                    running=running,
                    failed_tasks=int(d.get("failedTasks", 0)),
                )
            )
        events = tuple(e.get("message", "") for e in svc.get("events", [])[:5])
        return ServiceStatus(
            True,
            svc.get("taskDefinition"),
            int(svc.get("desiredCount", 0)),
            tuple(deployments),
            events,
        )

    def task_definition(self, arn: str) -> dict[str, Any]:
        td: dict[str, Any] = self.ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        return td

    def register_revision(self, base_arn: str, image: str, container: Optional[str]) -> str:
        base = self.task_definition(base_arn)
        containers = [dict(c) for c in base["containerDefinitions"]]
        target = container or containers[0]["name"]
        if not any(c["name"] == target for c in containers):
            raise GatewayError(f"task definition {base_arn} has no container named {target!r}")
        for c in containers:
            if c["name"] == target:
                c["image"] = image
        allowed = (
            "family", "taskRoleArn", "executionRoleArn", "networkMode", "volumes", "placementConstraints",
            "requiresCompatibilities", "cpu", "memory", "runtimePlatform", "ephemeralStorage", "pidMode", "ipcMode",
        )  # fmt: skip
        request = {k: base[k] for k in allowed if base.get(k) not in (None, [], {})}
        arn: str = self.ecs.register_task_definition(containerDefinitions=containers, **request)[
            "taskDefinition"
        ]["taskDefinitionArn"]
        return arn

    def update_service(
        self, cluster: str, service: str, task_definition: Optional[str], desired: Optional[int]
    ) -> None:
        kwargs: dict[str, Any] = {"cluster": cluster, "service": service}
        if task_definition:
            kwargs["taskDefinition"] = task_definition
        if desired is not None:
            kwargs["desiredCount"] = desired
        self.ecs.update_service(**kwargs)

    def run_task(
        self, cluster: str, task_definition: str, container: str, command: list[str]
    ) -> str:
        response = self.ecs.run_task(
            cluster=cluster,
            taskDefinition=task_definition,
            overrides={"containerOverrides": [{"name": container, "command": command}]},
            startedBy="netflix-clone-deploy",
        )
        if response.get("failures"):
            raise GatewayError(f"run_task failed: {response['failures']}")
        arn: str = response["tasks"][0]["taskArn"]
        return arn

    def task_exit_code(self, cluster: str, task_arn: str) -> Optional[int]:
        task = self.ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"][0]
        if task.get("lastStatus") != "STOPPED":
            return None
        codes = [c.get("exitCode") for c in task.get("containers", [])]
        return max((int(c) for c in codes if c is not None), default=1)

    # Load balancer --------------------------------------------------------------------------------
    def target_health(self, target_group_arn: str) -> list[str]:
        described = self.elbv2.describe_target_health(TargetGroupArn=target_group_arn)
        return [d["TargetHealth"]["State"] for d in described.get("TargetHealthDescriptions", [])]

    def listener_weights(self, listener_arn: str) -> dict[str, int]:
        listener = self.elbv2.describe_listeners(ListenerArns=[listener_arn])["Listeners"][0]
        for action in listener.get("DefaultActions", []):
            if action.get("Type") == "forward":
                groups = action.get("ForwardConfig", {}).get("TargetGroups")
                if groups:
                    return {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in groups}
                return {action["TargetGroupArn"]: 100}
        raise GatewayError(f"listener {listener_arn} has no forward action")

    def set_weights(
        self, listener_arn: str, weights: dict[str, int], rule_arns: tuple[str, ...] = ()
    ) -> None:
        action = {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [
                    {"TargetGroupArn": arn, "Weight": w} for arn, w in weights.items()
                ],
                "TargetGroupStickinessConfig": {"Enabled": False},
            },
        }
        self.elbv2.modify_listener(ListenerArn=listener_arn, DefaultActions=[action])
        for rule in rule_arns:
            self.elbv2.modify_rule(RuleArn=rule, Actions=[action])

    # Metrics ------------------------------------------------------------------------------------
    def window_metrics(
        self, target_group_arn: str, start: float, end: float, period_s: int
    ) -> WindowMetrics:
        groups = self.elbv2.describe_target_groups(TargetGroupArns=[target_group_arn])[
            "TargetGroups"
        ]
        lbs = groups[0].get("LoadBalancerArns", []) if groups else []
        # CloudWatch names an ALB target group "targetgroup/<name>/<id>": the ARN's last field.
        dims = [{"Name": "TargetGroup", "Value": target_group_arn.split(":")[-1]}]
        if lbs:
            dims.append({"Name": "LoadBalancer", "Value": _dimension(lbs[0], ":loadbalancer/")})

        def query(qid: str, metric: str, stat: str) -> dict[str, Any]:
            return {
                "Id": qid,
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/ApplicationELB",
                        "MetricName": metric,
                        "Dimensions": dims,
                    },
                    "Period": period_s,
                    "Stat": stat,
                },
            }

        result = self.cloudwatch.get_metric_data(
            MetricDataQueries=[
                query("requests", "RequestCount", "Sum"),
                query("errors", "HTTPCode_Target_5XX_Count", "Sum"),
                query("p99", "TargetResponseTime", "p99"),
            ],
            StartTime=start,
            EndTime=end,
        )
        values = {r["Id"]: r.get("Values", []) for r in result["MetricDataResults"]}
        return WindowMetrics(
            requests=int(sum(values.get("requests", []))),
            errors_5xx=int(sum(values.get("errors", []))),
            p99_ms=tuple(1000.0 * v for v in values.get("p99", [])),
        )

    # CloudFront ---------------------------------------------------------------------------------
    def create_invalidation(self, distribution_id: str, paths: list[str], reference: str) -> str:
        response = self.cloudfront.create_invalidation(
            DistributionId=distribution_id,
            InvalidationBatch={
                "Paths": {"Quantity": len(paths), "Items": paths},
                "CallerReference": reference,
            },
        )
        invalidation_id: str = response["Invalidation"]["Id"]
        return invalidation_id

    def invalidation_status(self, distribution_id: str, invalidation_id: str) -> str:
        status: str = self.cloudfront.get_invalidation(
            DistributionId=distribution_id, Id=invalidation_id
        )["Invalidation"]["Status"]
        return status
