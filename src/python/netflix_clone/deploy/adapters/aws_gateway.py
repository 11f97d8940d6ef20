"""The narrow interface between the rollout logic and AWS, and its boto3 implementation.

Everything a rollout asks of AWS goes through :class:`CloudGateway`. Retries live in the clients
(botocore's *standard* retry mode: throttling, 5xx and connection errors, exponential backoff with
jitter) and every call has a connect and a read timeout, so a stalled endpoint becomes an error
instead of a hung deploy. Errors leave this module as :class:`GatewayError` with a one-line message
naming the call; ``user_error`` marks the ones that mean bad input or configuration (an unknown image
tag, listener or cluster, missing credentials), which the CLI reports as *rejected*.

Traffic routing (:class:`Route`): a service's traffic is either a whole listener's default action or
one or more listener *rules*. With rules, the listener's default action is never touched (it may
route another application). Several rules are changed one after another (ELB has no transaction);
if one change fails, the rules already changed are put back, so they never disagree for long.

Long module: one boto3 implementation of one interface (ECS, ELB, CloudWatch, CloudFront, ECR calls and
their error translation); splitting it per AWS service would spread the shared timeout, retry and
``GatewayError`` rules over five files that only make sense together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Protocol

from netflix_clone.deploy.domain.analysis import WindowMetrics
from netflix_clone.deploy.errors import GatewayError

__all__ = [
    "Boto3Gateway",
    "CloudGateway",
    "DeploymentInfo",
    "GatewayError",
    "Route",
    "ServiceStatus",
    "describe_error",
]

# Error codes that mean "your input or configuration is wrong", not "AWS is having a bad day".
_USER_ERROR_CODES = {
    "ImageNotFoundException",
    "RepositoryNotFoundException",
    "ListenerNotFound",
    "RuleNotFound",
    "TargetGroupNotFound",
    "LoadBalancerNotFound",
    "ClusterNotFoundException",
    "ServiceNotFoundException",
    "ServiceNotActiveException",
    "NoSuchDistribution",
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "ExpiredToken",
    "ExpiredTokenException",
}


def describe_error(exc: BaseException, what: str = "") -> GatewayError:
    """A botocore/boto3 exception as a one-line GatewayError (never with credentials or bodies)."""
    if isinstance(exc, GatewayError):
        return exc
    prefix = f"{what}: " if what else ""
    from botocore.exceptions import (  # pylint: disable=import-outside-toplevel
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = str(error.get("Message", "")).strip()
        attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts")
        retried = f" (after {int(attempts) + 1} attempts)" if attempts else ""
        return GatewayError(
            f"{prefix}{code}: {message or 'no message'}{retried}",
            user_error=code in _USER_ERROR_CODES,
            code=code,
        )
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return GatewayError(
            f"{prefix}no usable AWS credentials (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
            "a profile, or assume a role)",
            user_error=True,
            code="NoCredentials",
        )
    if isinstance(exc, NoRegionError):
        return GatewayError(
            f"{prefix}no AWS region (set AWS_DEFAULT_REGION or pass --region)",
            user_error=True,
            code="NoRegion",
        )
    if isinstance(exc, EndpointConnectionError):
        return GatewayError(f"{prefix}AWS endpoint unreachable: {exc}", code="Unreachable")
    if isinstance(exc, BotoCoreError):
        return GatewayError(f"{prefix}{type(exc).__name__}: {exc}", code=type(exc).__name__)
    return GatewayError(f"{prefix}{type(exc).__name__}: {exc}", code=type(exc).__name__)


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
    running: int = 0
    target_groups: tuple[str, ...] = ()  # target groups the service registers its tasks in
    lb_containers: tuple[str, ...] = ()  # the containers the load balancer sends traffic to
    launch: tuple[tuple[str, Any], ...] = ()  # how its tasks run: launch type / capacity / network

    @property
    def primary(self) -> Optional[DeploymentInfo]:
        return next((d for d in self.deployments if d.status == "PRIMARY"), None)

    def run_task_launch(self) -> dict[str, Any]:
        """RunTask arguments that start a one-off task the way this service starts its own."""
        return dict(self.launch)


@dataclass(frozen=True)
class Route:
    """Where a service's traffic split lives: a listener's default action, or its rules."""

    listener_arn: str
    rule_arns: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.rule_arns:
            return f"rule(s) {', '.join(r.split('/')[-1] for r in self.rule_arns)}"
        return f"listener {self.listener_arn.split('/')[-1]}"


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

    def route_weights(self, route: Route) -> dict[str, int]:
        ...

    def set_weights(self, route: Route, weights: dict[str, int]) -> None:
        ...

    def window_metrics(self, target_group_arn: str, start: float, end: float, period_s: int) -> WindowMetrics:
        ...

    def create_invalidation(self, distribution_id: str, paths: list[str], reference: str) -> str:
        ...

    def invalidation_status(self, distribution_id: str, invalidation_id: str) -> str:
        ...

    def run_task(
        self,
        cluster: str,
        task_definition: str,
        container: str,
        command: list[str],
        launch: dict[str, Any],
    ) -> str:
        ...

    def task_exit_code(self, cluster: str, task_arn: str) -> Optional[int]:
        ...


def _dimension(arn: str, marker: str) -> str:
    """CloudWatch's dimension value for an ELB ARN: the part after ``:loadbalancer/`` or ``:``."""
    return arn.split(marker, 1)[1] if marker in arn else arn


def _forward_weights(actions: list[dict[str, Any]], where: str) -> dict[str, int]:
    for action in actions:
        if action.get("Type") == "forward":
            groups = action.get("ForwardConfig", {}).get("TargetGroups")
            if groups:
                return {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in groups}
            return {action["TargetGroupArn"]: 100}
    raise GatewayError(f"{where} has no forward action", user_error=True)


def _forward_action(weights: dict[str, int]) -> dict[str, Any]:
    return {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": arn, "Weight": w} for arn, w in weights.items()],
            "TargetGroupStickinessConfig": {"Enabled": False},
        },
    }


class Boto3Gateway:
    def __init__(
        self,
        region: Optional[str] = None,
        session: Any = None,
        *,
        max_attempts: int = 5,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 30.0,
    ) -> None:
        import boto3  # pylint: disable=import-outside-toplevel
        from botocore.config import Config  # pylint: disable=import-outside-toplevel

        config = Config(
            retries={"mode": "standard", "max_attempts": max_attempts},
            connect_timeout=connect_timeout_s,
            read_timeout=read_timeout_s,
        )
        session = session or boto3.session.Session(region_name=region)
        self.ecr = session.client("ecr", config=config)
        self.ecs = session.client("ecs", config=config)
        self.elbv2 = session.client("elbv2", config=config)
        self.cloudwatch = session.client("cloudwatch", config=config)
        self.cloudfront = session.client("cloudfront", config=config)

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
            found = self.ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"]
        except self.ecr.exceptions.ImageNotFoundException:
            raise GatewayError(f"image {image} not found in ECR repository {repository}", user_error=True) from None
        except self.ecr.exceptions.RepositoryNotFoundException:
            raise GatewayError(f"ECR repository {repository} does not exist", user_error=True) from None
        except Exception as exc:
            raise describe_error(exc, f"ECR DescribeImages {repository}:{tag}") from None
        if not found:
            raise GatewayError(f"image {image} not found in ECR", user_error=True)
        return f"{name}@{found[0]['imageDigest']}"

    # ECS ----------------------------------------------------------------------------------------
    def service_status(self, cluster: str, service: str) -> ServiceStatus:
        try:
            described = self.ecs.describe_services(cluster=cluster, services=[service])
        except Exception as exc:
            raise describe_error(exc, f"ECS DescribeServices {service}") from None
        services = [s for s in described.get("services", []) if s.get("status") != "INACTIVE"]
        if not services:
            return ServiceStatus(False, None, 0, ())
        svc = services[0]
        deployments = []
        for d in svc.get("deployments", []):
            running, desired = int(d.get("runningCount", 0)), int(d.get("desiredCount", 0))
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
        launch: list[tuple[str, Any]] = []
        if svc.get("capacityProviderStrategy"):
            launch.append(("capacityProviderStrategy", svc["capacityProviderStrategy"]))
        elif svc.get("launchType"):
            launch.append(("launchType", svc["launchType"]))
        if svc.get("platformVersion") and svc.get("launchType") == "FARGATE":
            launch.append(("platformVersion", svc["platformVersion"]))
        if svc.get("networkConfiguration"):
            launch.append(("networkConfiguration", svc["networkConfiguration"]))
        return ServiceStatus(
            True,
            svc.get("taskDefinition"),
            int(svc.get("desiredCount", 0)),
            tuple(deployments),
            events,
            running=int(svc.get("runningCount", 0)),
            target_groups=tuple(lb["targetGroupArn"] for lb in svc.get("loadBalancers", []) if "targetGroupArn" in lb),
            lb_containers=tuple(lb["containerName"] for lb in svc.get("loadBalancers", []) if lb.get("containerName")),
            launch=tuple(launch),
        )

    def task_definition(self, arn: str) -> dict[str, Any]:
        try:
            td: dict[str, Any] = self.ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        except Exception as exc:
            raise describe_error(exc, f"ECS DescribeTaskDefinition {arn}") from None
        return td

    def register_revision(self, base_arn: str, image: str, container: Optional[str]) -> str:
        """A new revision of ``base_arn`` with ``container``'s image replaced (the only container
        if there is one; with several, the caller must name it - a sidecar must never get the app).
        """
        base = self.task_definition(base_arn)
        containers = [dict(c) for c in base["containerDefinitions"]]
        if container is None and len(containers) > 1:
            names = ", ".join(c["name"] for c in containers)
            raise GatewayError(
                f"task definition {base_arn} has several containers ({names}): name the one that "
                "runs the image with --container (or give the ECS service a load balancer container)",
                user_error=True,
            )
        target = container or containers[0]["name"]
        if not any(c["name"] == target for c in containers):
            raise GatewayError(f"task definition {base_arn} has no container named {target!r}", user_error=True)
        for c in containers:
            if c["name"] == target:
                c["image"] = image
        allowed = (
            "family", "taskRoleArn", "executionRoleArn", "networkMode", "volumes", "placementConstraints",
            "requiresCompatibilities", "cpu", "memory", "runtimePlatform", "ephemeralStorage", "pidMode", "ipcMode",
        )  # fmt: skip
        request = {k: base[k] for k in allowed if base.get(k) not in (None, [], {})}
        try:
            arn: str = self.ecs.register_task_definition(containerDefinitions=containers, **request)["taskDefinition"][
                "taskDefinitionArn"
            ]
        except Exception as exc:
            raise describe_error(exc, "ECS RegisterTaskDefinition") from None
        return arn

    def update_service(
        self, cluster: str, service: str, task_definition: Optional[str], desired: Optional[int]
    ) -> None:
        kwargs: dict[str, Any] = {"cluster": cluster, "service": service}
        if task_definition:
            kwargs["taskDefinition"] = task_definition
        if desired is not None:
            kwargs["desiredCount"] = desired
        try:
            self.ecs.update_service(**kwargs)
        except Exception as exc:
            raise describe_error(exc, f"ECS UpdateService {service}") from None

    def run_task(
        self,
        cluster: str,
        task_definition: str,
        container: str,
        command: list[str],
        launch: dict[str, Any],
    ) -> str:
        try:
            response = self.ecs.run_task(
                cluster=cluster,
                taskDefinition=task_definition,
                overrides={"containerOverrides": [{"name": container, "command": command}]},
                startedBy="netflix-clone-deploy",
                **launch,
            )
        except Exception as exc:
            raise describe_error(exc, "ECS RunTask") from None
        if response.get("failures"):
            reasons = "; ".join(f"{f.get('arn', '')} {f.get('reason', '')}".strip() for f in response["failures"])
            raise GatewayError(f"ECS RunTask refused: {reasons}")
        if not response.get("tasks"):
            raise GatewayError("ECS RunTask started no task")
        arn: str = response["tasks"][0]["taskArn"]
        return arn

    def task_exit_code(self, cluster: str, task_arn: str) -> Optional[int]:
        try:
            tasks = self.ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"]
        except Exception as exc:
            raise describe_error(exc, "ECS DescribeTasks") from None
        if not tasks:
            raise GatewayError(f"task {task_arn} not found")
        task = tasks[0]
        if task.get("lastStatus") != "STOPPED":
            return None
        codes = [c.get("exitCode") for c in task.get("containers", [])]
        return max((int(c) for c in codes if c is not None), default=1)

    # Load balancer --------------------------------------------------------------------------------
    def target_health(self, target_group_arn: str) -> list[str]:
        try:
            described = self.elbv2.describe_target_health(TargetGroupArn=target_group_arn)
        except Exception as exc:
            raise describe_error(exc, "ELB DescribeTargetHealth") from None
        return [d["TargetHealth"]["State"] for d in described.get("TargetHealthDescriptions", [])]

    def route_weights(self, route: Route) -> dict[str, int]:
        """The current split; with several rules they must agree (else a previous run broke off)."""
        try:
            if not route.rule_arns:
                listener = self.elbv2.describe_listeners(ListenerArns=[route.listener_arn])["Listeners"][0]
                return _forward_weights(listener.get("DefaultActions", []), route.describe())
            rules = self.elbv2.describe_rules(RuleArns=list(route.rule_arns))["Rules"]
        except GatewayError:
            raise
        except Exception as exc:
            raise describe_error(exc, f"ELB describe {route.describe()}") from None
        splits = [_forward_weights(r.get("Actions", []), f"rule {r['RuleArn']}") for r in rules]
        if any(s != splits[0] for s in splits[1:]):
            raise GatewayError(f"{route.describe()} disagree: {splits}")
        return splits[0]

    def set_weights(self, route: Route, weights: dict[str, int]) -> None:
        action = _forward_action(weights)
        if not route.rule_arns:
            try:
                self.elbv2.modify_listener(ListenerArn=route.listener_arn, DefaultActions=[action])
            except Exception as exc:
                raise describe_error(exc, "ELB ModifyListener") from None
            return
        # Each rule's own actions, so a failure halfway puts each back as it was - even rules that
        # disagreed already (a run killed between two of them), which this write then repairs.
        try:
            described = self.elbv2.describe_rules(RuleArns=list(route.rule_arns))["Rules"]
        except Exception as exc:
            raise describe_error(exc, f"ELB describe {route.describe()}") from None
        before = {r["RuleArn"]: r.get("Actions", []) for r in described}
        done: list[str] = []
        for rule in route.rule_arns:
            try:
                self.elbv2.modify_rule(RuleArn=rule, Actions=[action])
            except Exception as exc:
                error = describe_error(exc, f"ELB ModifyRule {rule.split('/')[-1]}")
                for changed in done:  # put the others back as they were
                    try:
                        self.elbv2.modify_rule(RuleArn=changed, Actions=before[changed])
                    except Exception as undo:  # pylint: disable=broad-except  # reported below
                        error = GatewayError(f"{error}; putting back {changed} also failed: {undo}")
                raise error from None
            done.append(rule)

    # Metrics ------------------------------------------------------------------------------------
    def window_metrics(self, target_group_arn: str, start: float, end: float, period_s: int) -> WindowMetrics:
        try:
            groups = self.elbv2.describe_target_groups(TargetGroupArns=[target_group_arn])["TargetGroups"]
        except Exception as exc:
            raise describe_error(exc, "ELB DescribeTargetGroups") from None
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

        try:
            result = self.cloudwatch.get_metric_data(
                MetricDataQueries=[
                    query("requests", "RequestCount", "Sum"),
                    query("errors", "HTTPCode_Target_5XX_Count", "Sum"),
                    query("p99", "TargetResponseTime", "p99"),
                ],
                StartTime=start,
                EndTime=end,
            )
        except Exception as exc:
            raise describe_error(exc, "CloudWatch GetMetricData") from None
        values = {r["Id"]: r.get("Values", []) for r in result["MetricDataResults"]}
        return WindowMetrics(
            requests=int(sum(values.get("requests", []))),
            errors_5xx=int(sum(values.get("errors", []))),
            p99_ms=tuple(1000.0 * v for v in values.get("p99", [])),
        )

    # CloudFront ---------------------------------------------------------------------------------
    def create_invalidation(self, distribution_id: str, paths: list[str], reference: str) -> str:
        try:
            response = self.cloudfront.create_invalidation(
                DistributionId=distribution_id,
                InvalidationBatch={
                    "Paths": {"Quantity": len(paths), "Items": paths},
                    "CallerReference": reference,
                },
            )
        except Exception as exc:
            raise describe_error(exc, "CloudFront CreateInvalidation") from None
        invalidation_id: str = response["Invalidation"]["Id"]
        return invalidation_id

    def invalidation_status(self, distribution_id: str, invalidation_id: str) -> str:
        try:
            status: str = self.cloudfront.get_invalidation(DistributionId=distribution_id, Id=invalidation_id)[
                "Invalidation"
            ]["Status"]
        except Exception as exc:
            raise describe_error(exc, "CloudFront GetInvalidation") from None
        return status
