"""Fault matrix, part 1: the deploy pex SIGKILLed at every phase boundary and after every changing
AWS call, then the operator's documented recovery (`status` + `break-lock`, then `rollback` or
`production --resume`). Every row ends with the invariants of ``tools/deploy_rehearsal/invariants.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netflix_clone.tools.deploy_rehearsal.faults import phase_marker
from netflix_clone_testing.deploy_matrix import Case, play

PHASES = (
    "started",
    "green_deploying",
    "green_healthy",
    "green_tested",
    "shifting",
    "baking",
    "retiring_blue",
    "succeeded",
)


def _kill(phase: str, when: str) -> str:
    return f"kill@dynamodb:UpdateItem/{when}~{phase_marker(phase)}"


CASES = [
    # Killed just before or just after a phase is recorded, then rolled back by the operator.
    *(
        Case(
            f"kill {when} recording {phase}, then rollback",
            faults=(_kill(phase, when),),
            exit_code=-9,
            then=("break-lock", "rollback"),
            # Killed before anything was recorded: there is nothing to roll back (exit 2), and
            # nothing had changed either.
            then_exit=(0, 2 if (phase, when) == ("started", "before") else 0),
            phase=None if (phase, when) == ("started", "before") else "rolled_back",
        )
        for phase in PHASES
        for when in ("before", "after")
    ),
    # Killed after a phase was recorded, then resumed to the end.
    *(
        Case(
            f"kill after recording {phase}, then resume",
            faults=(_kill(phase, "after"),),
            exit_code=-9,
            then=("break-lock", "resume"),
            then_exit=(0, 2 if phase == "succeeded" else 0),  # nothing left to resume
            live="v2",
            phase="succeeded",
        )
        for phase in PHASES
    ),
    # Killed right after a changing AWS call took effect (the runner never saw the answer).
    Case(
        "kill after green's scale-up call, then rollback",
        faults=("kill@ecs:UpdateService/after#1",),
        exit_code=-9,
        then=("break-lock", "rollback"),
    ),
    Case(
        "kill after the 10% shift, then rollback",
        faults=("kill@elbv2:ModifyListener/after#1",),
        exit_code=-9,
        then=("break-lock", "rollback"),
    ),
    Case(
        "kill after the 100% shift, then rollback",
        faults=("kill@elbv2:ModifyListener/after#2",),
        exit_code=-9,
        then=("break-lock", "rollback"),
    ),
    Case(
        # Issue 14, case 2: blue already at 0 tasks; rollback must bring it up before traffic moves.
        "kill after blue was scaled to 0, then rollback",
        faults=("kill@ecs:UpdateService/after#2",),
        exit_code=-9,
        then=("break-lock", "rollback"),
    ),
    Case(
        "kill after blue was scaled to 0, then resume",
        faults=("kill@ecs:UpdateService/after#2",),
        exit_code=-9,
        then=("break-lock", "resume"),
        live="v2",
        phase="succeeded",
    ),
    Case(
        "kill during the canary's analysis, then rollback",
        faults=("kill@cloudwatch:GetMetricData#2",),
        exit_code=-9,
        then=("break-lock", "rollback"),
    ),
    Case(
        "kill after the revision was registered: nothing recorded, nothing to roll back",
        faults=("kill@ecs:RegisterTaskDefinition/after",),
        exit_code=-9,
        then=("break-lock", "rollback"),
        then_exit=(0, 2),
        phase=None,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_kill_then_recover(case: Case, aws_endpoint: str, tmp_path: Path) -> None:
    _, runs, problems = play(case, aws_endpoint, tmp_path)
    assert not problems, "\n".join(problems + [r.transcript() for r in runs])
