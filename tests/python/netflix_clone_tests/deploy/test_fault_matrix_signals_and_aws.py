"""Fault matrix, part 2: SIGTERM/SIGINT at every phase boundary (the pex restores the known-good colour
itself), and every class of AWS call failing - persistently (throttled past its retries, HTTP 500,
connection reset or a stall past the read timeout) or briefly (retried, the deploy goes on).

Documented outcomes: a failure before the first change exits 1 with nothing changed; after it, the
pex rolls back (exit 1); when the rollback itself cannot finish (the very calls it needs keep
failing, or the record cannot be written) it exits 5 and `deploy rollback` finishes the job once
AWS answers again. A post-deploy failure after a good deploy exits 4.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netflix_clone.tools.deploy_rehearsal.faults import phase_marker
from netflix_clone_testing.deploy_matrix import Case, play

PHASES = (
    "green_deploying",
    "green_healthy",
    "green_tested",
    "shifting",
    "baking",
    "retiring_blue",
    "succeeded",
)

SIGNALS = (
    [
        Case(
            f"SIGTERM while recording {phase}",
            faults=(f"term@dynamodb:UpdateItem~{phase_marker(phase)}",),
            stdout_has=('"outcome": "rolled back"', "interrupted by SIGTERM"),
        )
        for phase in ("started", *PHASES)
        if phase != "succeeded"
    ]
    + [
        # Once blue is retired the deploy is done: a SIGTERM while recording that must not undo it.
        Case(
            "SIGTERM while recording succeeded",
            faults=(f"term@dynamodb:UpdateItem~{phase_marker('succeeded')}",),
            exit_code=0,
            live="v2",
            phase="succeeded",
            stderr_has=("SIGTERM received; finishing the current step first",),
        )
    ]
    + [
        Case(
            f"SIGINT while recording {phase}",
            faults=(f"int@dynamodb:UpdateItem~{phase_marker(phase)}",),
            stdout_has=("interrupted by SIGINT",),
        )
        for phase in ("shifting", "retiring_blue")
    ]
    + [
        Case(
            "SIGTERM during the canary analysis, SIGINT during the rollback (ignored until it is done)",
            faults=("term@cloudwatch:GetMetricData#2", "int@elbv2:ModifyListener#2"),
            stderr_has=("SIGINT received; finishing the current step first",),
        ),
    ]
)

WIRING = [
    Case(
        "two rules for one service, killed between changing them, then rollback",
        routing="rule",
        rules=2,
        faults=("kill@elbv2:ModifyRule/after#1",),
        exit_code=-9,
        then=("break-lock", "rollback"),
    ),
    Case("two rules for one service: canary succeeds", routing="rule", rules=2, exit_code=0, live="v2",
         phase="succeeded"),
    Case("a sidecar first in the task definition: the app container gets the image", sidecar=True,
         exit_code=0, live="v2", phase="succeeded"),
]  # fmt: skip

AWS = [
    # Persistent failures before the first change: nothing changes, exit 1, one line, no record.
    *(
        Case(
            f"{kind} on every {call} (before any change)",
            faults=(f"{kind}@{call}*0",),
            phase=None,
            changes_nothing=True,
            stdout_has=("nothing was changed",),
        )
        for kind, call in (
            ("http500", "ecr:DescribeImages"),
            ("throttle", "ecr:DescribeImages"),
            ("http500", "dynamodb:UpdateItem"),
            ("http500", "elbv2:DescribeListeners"),
            ("reset", "elbv2:DescribeListeners"),
            ("http500", "ecs:DescribeServices"),
        )
    ),
    Case(
        "http500 on every RegisterTaskDefinition",
        faults=("http500@ecs:RegisterTaskDefinition*0",),
        phase=None,
    ),
    # Persistent failures after the first change: the pex rolls back by itself.
    Case(
        "DescribeServices fails from green's rollout on",
        faults=("http500@ecs:DescribeServices#4*0",),
        stdout_has=("cannot read the state of",),
    ),
    Case(
        "DescribeTargetHealth fails: green never proven healthy",
        faults=("http500@elbv2:DescribeTargetHealth*0",),
    ),
    # Issue 14, case 5: CloudWatch failing at the 10 % step is no data, never a traceback.
    Case(
        "CloudWatch 500 on every call",
        faults=("http500@cloudwatch:GetMetricData*0",),
        stdout_has=("metrics unavailable",),
    ),
    Case("CloudWatch throttled past its retries", faults=("throttle@cloudwatch:GetMetricData*0",)),
    Case("CloudWatch unreachable (connection reset)", faults=("reset@cloudwatch:GetMetricData*0",)),
    # The rollback's own calls fail: exit 5, then `deploy rollback` finishes once AWS is back.
    Case(
        "UpdateService always fails: green cannot be scaled down",
        faults=("http500@ecs:UpdateService*0",),
        exit_code=5,
        then=("rollback",),
        stdout_has=("rollback incomplete",),
    ),
    Case(
        "ModifyListener always fails: traffic cannot move",
        faults=("http500@elbv2:ModifyListener*0",),
        exit_code=5,
        then=("rollback",),
    ),
    Case(
        "DynamoDB rejects every record from the canary on",
        faults=(
            f"http500@dynamodb:UpdateItem*0~{phase_marker('shifting')}",
            f"http500@dynamodb:UpdateItem*0~{phase_marker('rolling_back')}",
            f"http500@dynamodb:UpdateItem*0~{phase_marker('rolled_back')}",
        ),
        exit_code=5,
        then=("rollback",),
        stdout_has=("could not be saved",),
    ),  # fmt: skip
    # Blips shorter than the retries: the deploy carries on and succeeds.
    *(
        Case(f"transient {spec}", faults=(spec,), exit_code=0, live="v2", phase="succeeded")
        for spec in (
            "throttle@ecs:UpdateService*2",
            "http500@elbv2:ModifyListener*1",
            "reset@dynamodb:UpdateItem#3*1",
            "hang@ecs:DescribeServices#4*1",
            "throttle@cloudwatch:GetMetricData*2",
            "hang@cloudwatch:GetMetricData#2*3",  # a stall past the read timeout, then answers
            "reset@dynamodb:UpdateItem/after#1",  # the lock was taken, its answer lost: still ours
        )
    ),
    # Post-deploy steps failing after a good deploy: exit 4, never a traceback (issue 14, case 11).
    Case(
        "CloudFront invalidation refused (unknown distribution)",
        args=("--invalidate", "/*", "--cloudfront-distribution-id", "E0NOSUCHDIST"),
        exit_code=4,
        live="v2",
        phase="succeeded",
        stdout_has=('"outcome": "succeeded; post-deploy step failed"',),
    ),
    Case(
        "warm-up task refused by ECS",
        faults=("refuse@ecs:RunTask",),
        args=("--warm-cache",),
        exit_code=4,
        live="v2",
        phase="succeeded",
        stdout_has=("RunTask refused",),
    ),
    Case(
        "warm-up task exits non-zero",
        tag="v2-warmup-fails",
        args=("--warm-cache",),
        exit_code=4,
        live="v2-warmup-fails",
        phase="succeeded",
        stdout_has=("warm-up task exited 3",),
    ),
    Case(
        "warm-up runs on Fargate in the service's subnets",
        args=("--warm-cache", "--invalidate", "/*"),
        exit_code=0,
        live="v2",
        phase="succeeded",
        stdout_has=('"exit_code": 0',),
    ),
]


@pytest.mark.parametrize("case", SIGNALS + AWS + WIRING, ids=str)
def test_fault(case: Case, aws_endpoint: str, tmp_path: Path) -> None:
    _, runs, problems = play(case, aws_endpoint, tmp_path)
    assert not problems, "\n".join(problems + [r.transcript() for r in runs])
