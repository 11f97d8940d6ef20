"""What must hold after any deploy, failure, kill or operator action - read from AWS, not from the pex.

After a run (and the documented recovery, where one is needed):

1. the route's weights sum to 100 and exactly one colour receives traffic;
2. that colour runs its full task count, all healthy, on the expected revision (the known-good one,
   or the new one after a success); the other colour is scaled to 0;
3. no request was ever routed to a colour without a healthy task (zero downtime, over the whole run);
4. with ``routing="rule"``, the shared listener's default action still routes the other application;
5. the lock is free (no run is alive to hold it);
6. the deploy record's phase is the expected one, and the report of that record agrees with it;
7. no secret value appears in anything the runs printed or wrote.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # pragma: no cover
    from netflix_clone.tools.deploy_rehearsal.rehearsal import Rehearsal

__all__ = ["Expectation", "Violation", "check", "snapshot"]


@dataclass(frozen=True)
class Expectation:
    live_tag: str = "v1"  # the image tag the live colour must run
    phase: Optional[str] = None  # the recorded phase (None: not checked)
    lock_free: bool = True


@dataclass(frozen=True)
class Violation:
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


def _clients(rig: "Rehearsal") -> dict[str, Any]:
    import boto3  # pylint: disable=import-outside-toplevel

    # Untyped on purpose: client names are variables here, and stubs differ between resolves.
    aws: Any = boto3

    kw = {"endpoint_url": rig.standin.moto_url, "region_name": rig.world.region}
    return {n: aws.client(n, **kw) for n in ("elbv2", "ecs", "dynamodb")}


def _forward(actions: list[dict[str, Any]]) -> dict[str, int]:
    for action in actions:
        if action.get("Type") == "forward":
            groups = action.get("ForwardConfig", {}).get("TargetGroups")
            if groups:
                return {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in groups}
            return {action["TargetGroupArn"]: 100}
    return {}


def snapshot(rig: "Rehearsal") -> dict[str, Any]:
    """The service as AWS sees it: weights, tasks per colour, the record and the lock."""
    clients = _clients(rig)
    svc = rig.svc
    disagree = None
    if svc.rule_arn:
        rules = clients["elbv2"].describe_rules(RuleArns=svc.rule_arns)["Rules"]
        splits = [_forward(r["Actions"]) for r in rules]
        weights = splits[0]
        if any(split != splits[0] for split in splits[1:]):
            disagree = splits
    else:
        weights = _forward(
            clients["elbv2"].describe_listeners(ListenerArns=[svc.listener_arn])["Listeners"][0]["DefaultActions"]
        )
    colours = {}
    for color in ("blue", "green"):
        healthy, _, td = rig.standin.ecs.healthy_tasks(svc.service, color)
        described = clients["ecs"].describe_services(cluster=rig.world.cluster, services=[f"{svc.service}-{color}"])
        moto_desired = int(described["services"][0]["desiredCount"])
        containers = clients["ecs"].describe_task_definition(taskDefinition=td)["taskDefinition"][
            "containerDefinitions"
        ]
        # The app's container (named after the service), not whatever container comes first.
        image = next((c["image"] for c in containers if c["name"] == svc.service), containers[0]["image"])
        tag = next(
            (t for t, d in svc.digests.items() if image.endswith(f"@{d}") or image == svc.image(t)),
            "?",
        )
        colours[color] = {
            "healthy": healthy,
            "desired": moto_desired,
            "task_definition": td,
            "tag": tag,
        }
    try:
        item = (
            clients["dynamodb"]
            .get_item(
                TableName=rig.world.lock_table,
                Key={"pk": {"S": f"production#{svc.service}"}},
                ConsistentRead=True,
            )
            .get("Item", {})
        )
    except clients["dynamodb"].exceptions.ResourceNotFoundException:
        item = {}
    state = json.loads(item["deploy_state"]["S"]) if "deploy_state" in item else None
    lock = (
        {"owner": item["lock_owner"]["S"], "expires_at": float(item["lock_expires"]["N"])}
        if "lock_token" in item
        else None
    )
    default = None
    if rig.world.routing == "rule":
        default = _forward(
            clients["elbv2"].describe_listeners(ListenerArns=[svc.listener_arn])["Listeners"][0]["DefaultActions"]
        )
    return {
        "weights": {svc.color_of(tg): w for tg, w in weights.items()},
        "colours": colours,
        "state": state,
        "lock": lock,
        "dropped_requests": round(rig.standin.traffic.dropped(svc.service)),
        "rules_disagree": disagree,
        "default_action": default,
    }


def check(rig: "Rehearsal", expect: Expectation) -> list[Violation]:
    snap = snapshot(rig)
    out: list[Violation] = []
    weights = snap["weights"]
    if sum(weights.values()) != 100:
        out.append(Violation("weights", f"sum to {sum(weights.values())}: {weights}"))
    live = [c for c, w in weights.items() if w > 0]
    if len(live) != 1:
        out.append(Violation("one colour live", f"{len(live)} colours take traffic: {weights}"))
    else:
        color = live[0]
        c = snap["colours"][color]
        if c["desired"] < 1 or c["healthy"] < c["desired"]:
            out.append(
                Violation(
                    "live colour healthy",
                    f"{color}: {c['healthy']} healthy of {c['desired']} wanted",
                )
            )
        if c["tag"] != expect.live_tag:
            out.append(Violation("live revision", f"{color} runs {c['tag']}, expected {expect.live_tag}"))
        other = snap["colours"]["green" if color == "blue" else "blue"]
        if other["desired"] != 0:
            out.append(Violation("other colour retired", f"still wants {other['desired']} task(s)"))
    if snap["rules_disagree"]:
        out.append(Violation("rules agree", f"the service's rules differ: {snap['rules_disagree']}"))
    if snap["dropped_requests"]:
        out.append(Violation("zero downtime", f"{snap['dropped_requests']} requests had no healthy task"))
    if rig.world.routing == "rule" and snap["default_action"] != {rig.world.other_app_tg: 100}:
        out.append(Violation("listener default untouched", f"default action is {snap['default_action']}"))
    if expect.lock_free and snap["lock"] is not None:
        left = snap["lock"]["expires_at"] - time.time()
        out.append(Violation("lock free", f"held by {snap['lock']['owner']} ({left:.0f} s left)"))
    state = snap["state"]
    if expect.phase is not None:
        phase = state["phase"] if state else None
        if phase != expect.phase:
            out.append(Violation("recorded phase", f"{phase}, expected {expect.phase}"))
    if state is not None and rig.report_dir.exists():
        reports = sorted(
            rig.report_dir.glob(f"deploy-production-{rig.service}-{state['deploy_id']}-*.json"),
            key=lambda p: p.stat().st_mtime_ns,
        )
        if reports:  # the newest report of this record must say what the record says
            reported = json.loads(reports[-1].read_text(encoding="utf-8"))["state"]["phase"]
            if reported != state["phase"]:
                out.append(Violation("report agrees", f"report says {reported}, record says {state['phase']}"))
    text = rig.outputs()
    for name, value in rig.secrets.items():
        path = value.split("://", 1)[-1].partition("/")[2]
        if value in text or (path and path in text):
            out.append(Violation("no secrets", f"{name} appears in the output"))
    return out
