"""The fault matrix's table rows and their runner: the built deploy pex against a rehearsal world.

A :class:`Case` is one row: what to deploy, which faults the stand-in injects, the exit code the
deploy must end with, what the operator does next (``then``: break a dead run's lock, roll back,
resume) with its exit codes, and the end state every invariant is checked against.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from netflix_clone.tools.deploy_rehearsal.faults import Fault
from netflix_clone.tools.deploy_rehearsal.invariants import Expectation
from netflix_clone.tools.deploy_rehearsal.rehearsal import Rehearsal, RunResult, rehearsal
from netflix_clone.tools.deploy_rehearsal.standin import Timing

__all__ = ["DEPLOY_PEX", "MUTATING", "Case", "play", "mutating_calls"]

# Where Pants puts the pex a test depends on (runtime_package_dependencies), relative to the sandbox.
DEPLOY_PEX = Path(os.environ.get("NFC_DEPLOY_PEX", "src.python.netflix_clone.deploy/deploy.pex")).resolve()
MUTATING = {
    ("ecs", "UpdateService"),
    ("ecs", "RegisterTaskDefinition"),
    ("ecs", "RunTask"),
    ("elasticloadbalancing", "ModifyListener"),
    ("elasticloadbalancing", "ModifyRule"),
    ("cloudfront", "CreateInvalidation"),
}


@dataclass(frozen=True)
class Case:
    name: str
    tag: str = "v2"
    faults: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    exit_code: int = 1
    then: tuple[str, ...] = ()  # break-lock | rollback | resume | rollback-again
    then_exit: tuple[int, ...] = ()
    live: str = "v1"
    phase: Optional[str] = "rolled_back"
    routing: str = "listener"
    rules: int = 1
    sidecar: bool = False
    requests_per_s: float = 2000.0
    env: tuple[tuple[str, Optional[str]], ...] = ()  # environment overrides (None: unset)
    changes_nothing: bool = False  # the deploy run must make no changing AWS call
    stderr_has: tuple[str, ...] = ()
    stdout_has: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def __str__(self) -> str:
        return self.name


def mutating_calls(rig: Rehearsal, since: int = 0) -> list[str]:
    return [f"{c.service}:{c.action}" for c in rig.standin.calls[since:] if (c.service, c.action) in MUTATING]


def _placeholders(rig: Rehearsal) -> dict[str, str]:
    return {
        "other_app_tg": rig.world.other_app_tg,
        "bogus_listener": rig.svc.listener_arn[:-4] + "dead",
        "slack": rig.slack_webhook,
        "grafana_key": rig.secrets["NFC_DEPLOY_GRAFANA_API_KEY"],
    }


def _env(rig: Rehearsal, case: Case) -> dict[str, str]:
    env = rig.env()
    for key, value in case.env:
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value.format(**_placeholders(rig))
    return env


def play(case: Case, moto_url: str, workdir: Path) -> tuple[Rehearsal, list[RunResult], list[str]]:
    """Run one row; returns the rig, its runs and every problem found (empty: the row holds)."""
    problems: list[str] = []
    assert DEPLOY_PEX.exists(), f"no deploy pex at {DEPLOY_PEX} (runtime_package_dependencies)"
    timing = Timing(requests_per_s=case.requests_per_s)
    with rehearsal(
        DEPLOY_PEX,
        workdir,
        moto_url=moto_url,
        routing=case.routing,
        timing=timing,
        python=sys.executable,
        rules=case.rules,
        sidecar=case.sidecar,
    ) as rig:
        faults = tuple(Fault.parse(f) for f in case.faults)
        before = len(rig.standin.calls)
        first = rig.run(
            "production",
            "--image",
            rig.svc.image(case.tag),
            *(a.format(**_placeholders(rig)) for a in case.args),
            faults=faults,
            env=_env(rig, case),
        )
        if first.exit_code != case.exit_code:
            problems.append(f"deploy exited {first.exit_code}, expected {case.exit_code}")
        if case.changes_nothing and mutating_calls(rig, before):
            problems.append(f"changed AWS although it should not: {mutating_calls(rig, before)}")
        for text in case.stderr_has:
            if text not in first.stderr:
                problems.append(f"stderr lacks {text!r}")
        for text in case.stdout_has:
            if text not in first.stdout:
                problems.append(f"stdout lacks {text!r}")
        for index, step in enumerate(case.then):
            expected = case.then_exit[index] if index < len(case.then_exit) else 0
            if step == "break-lock":
                result = rig.break_dead_lock()
                if result is None:
                    continue
            elif step in ("rollback", "rollback-again"):
                result = rig.rollback()
            elif step == "resume":
                result = rig.resume()
            else:
                raise ValueError(f"unknown step {step!r}")
            if result.exit_code != expected:
                problems.append(f"{step} exited {result.exit_code}, expected {expected}")
        problems += [str(v) for v in rig.check(Expectation(case.live, case.phase))]
        return rig, list(rig.runs), problems
