"""The persisted state of one deploy or rollback: enough to resume it or undo it from another machine.

A production deploy walks these phases; each is recorded *before* its side effects start, so a
resumed deploy redoes at most the one interrupted phase, and every phase's actions are idempotent::

    started -> green_deploying -> green_healthy -> green_tested -> shifting -> baking
            -> retiring_blue -> succeeded
    any non-terminal phase -> rolling_back -> rolled_back

("green" is the colour receiving the new revision and "blue" the one that was live: the names of
the phases stay fixed while the colours alternate between deploys.)

Every record carries ``known_good``: the colour, task definition and task count the service returns
to if this operation fails, is interrupted or is rolled back by an operator. It is what was live
before a deploy started, and what a rollback is moving to. It is never inferred from listener
weights, which say what *is* live, not what is *good*.

Recovery is one procedure whatever the phase (see :func:`recovery_plan`): bring the known-good colour
up to its task count on its revision and wait until it is healthy (it may have been retired), move
all traffic to it, then scale the other colour to 0. Each step is idempotent, so a recovery that is
itself interrupted is simply run again.

Example::

    >>> state = DeployState("d1", "svc", "production", "img", kind="deploy")
    >>> state.known_good = Revision("blue", "td:1", 2)
    >>> state.transition(0.0, Phase.GREEN_DEPLOYING, "green -> td:2")
    >>> recovery_plan(state).scale_up_first
    False
    >>> state.transition(1.0, Phase.ROLLING_BACK, "analysis failed")
    >>> state.transition(2.0, Phase.SUCCEEDED, "nope")
    Traceback (most recent call last):
    ...
    netflix_clone.deploy.domain.state.IllegalTransition: rolling_back -> succeeded is not a legal transition
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any, Optional

from netflix_clone.deploy.errors import IllegalTransition

__all__ = [
    "LEGAL",
    "DeployState",
    "Event",
    "IllegalTransition",
    "Phase",
    "RecoveryPlan",
    "Revision",
    "other_color",
    "recovery_plan",
]


class Phase(str, Enum):
    STARTED = "started"
    DEPLOYING = "deploying"  # staging: the service is rolling out the new revision
    GREEN_DEPLOYING = "green_deploying"
    GREEN_HEALTHY = "green_healthy"
    GREEN_TESTED = "green_tested"
    SHIFTING = "shifting"
    BAKING = "baking"
    RETIRING_BLUE = "retiring_blue"
    SUCCEEDED = "succeeded"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"

    @property
    def terminal(self) -> bool:
        return self in (Phase.SUCCEEDED, Phase.ROLLED_BACK)

    def __str__(self) -> str:
        return self.value


_FORWARD: dict[Phase, tuple[Phase, ...]] = {
    Phase.STARTED: (Phase.DEPLOYING, Phase.GREEN_DEPLOYING),
    Phase.DEPLOYING: (Phase.SUCCEEDED,),
    Phase.GREEN_DEPLOYING: (Phase.GREEN_HEALTHY,),
    Phase.GREEN_HEALTHY: (Phase.GREEN_TESTED,),
    Phase.GREEN_TESTED: (Phase.SHIFTING,),
    Phase.SHIFTING: (Phase.SHIFTING, Phase.BAKING),  # one record per traffic step
    Phase.BAKING: (Phase.RETIRING_BLUE,),
    Phase.RETIRING_BLUE: (Phase.SUCCEEDED,),
    Phase.ROLLING_BACK: (Phase.ROLLED_BACK,),
}
# Every non-terminal phase may start a rollback; a rollback may be restarted (resumed) by another run.
LEGAL: dict[Phase, frozenset[Phase]] = {
    phase: frozenset(
        _FORWARD.get(phase, ())
        + ((Phase.ROLLING_BACK,) if not phase.terminal else ())
        + (phase,)  # re-recording the current phase (resume, lease events) is always allowed
    )
    for phase in Phase
}


def other_color(color: str) -> str:
    if color not in ("blue", "green"):
        raise ValueError(f"unknown colour {color!r}")
    return "green" if color == "blue" else "blue"


@dataclass(frozen=True)
class Revision:
    """One colour running one task definition with a task count (staging: colour is the service)."""

    color: str
    task_definition: str
    desired: int

    def describe(self) -> str:
        return f"{self.color} on {self.task_definition.split('/')[-1]} x{self.desired}"


@dataclass
class Event:
    at: float
    phase: str
    message: str


@dataclass
class DeployState:
    deploy_id: str
    service: str
    environment: str
    image: str
    kind: str = "deploy"  # deploy | rollback
    phase: Phase = Phase.STARTED
    owner: Optional[str] = None
    known_good: Optional[Revision] = None  # where any failure, interruption or rollback returns to
    live_color: Optional[str] = None  # colour serving 100 % before this operation
    target_color: Optional[str] = None  # colour receiving the new revision
    new_task_definition: Optional[str] = None
    previous_task_definition: Optional[str] = None
    desired_count: Optional[int] = None
    strategy: list[dict[str, Any]] = field(default_factory=list)
    step_index: int = 0
    green_weight: int = 0
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    reason: Optional[str] = None
    rollback_error: Optional[str] = None  # set while a rollback could not complete
    # The wiring this record was made with: a rollback or resume given other wiring is refused.
    route: Optional[dict[str, Any]] = None  # listener_arn, rule_arns, blue/green target groups
    started_at: float = 0.0
    finished_at: Optional[float] = None

    def transition(self, at: float, phase: Phase, message: str) -> None:
        """Move to ``phase`` (raises on a transition the state machine does not allow)."""
        if phase not in LEGAL[self.phase]:
            raise IllegalTransition(f"{self.phase} -> {phase} is not a legal transition")
        self.phase = phase
        self.events.append(Event(at, phase.value, message))

    def note(self, at: float, message: str) -> None:
        """An event that does not change the phase (lease lost, resume, repair)."""
        self.events.append(Event(at, self.phase.value, message))

    @property
    def terminal(self) -> bool:
        return self.phase.terminal

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["phase"] = self.phase.value
        return data

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "DeployState":
        data = json.loads(text)
        data["events"] = [Event(**e) for e in data.get("events", [])]
        data["phase"] = Phase(data.get("phase", "started"))
        if data.get("known_good"):
            data["known_good"] = Revision(**data["known_good"])
        elif data.get("live_color") and data.get("previous_task_definition"):
            # Records written before known_good existed: the live colour on its previous revision.
            data["known_good"] = Revision(
                data["live_color"],
                data["previous_task_definition"],
                int(data.get("desired_count") or 1),
            )
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class RecoveryPlan:
    """How to return to ``target`` from the recorded phase.

    ``scale_up_first``: the known-good colour may have fewer tasks than it needs (it was being
    retired, or a manual rollback reaches back to a retired colour), so it must be scaled up and seen
    healthy before any traffic moves to it.
    """

    target: Revision
    abandon_color: Optional[str]
    scale_up_first: bool

    def steps(self) -> list[str]:
        out = []
        if self.scale_up_first:
            out.append(f"scale {self.target.describe()} and wait until healthy")
        else:
            out.append(f"check {self.target.color} is running {self.target.desired} healthy task(s)")
        out.append(f"move 100% of traffic to {self.target.color}")
        if self.abandon_color:
            out.append(f"scale {self.abandon_color} to 0")
        return out


def recovery_plan(state: DeployState) -> RecoveryPlan:
    """What undoing (or finishing the undo of) ``state`` takes; see the module docstring."""
    if state.known_good is None:
        raise ValueError(f"deploy {state.deploy_id} recorded no known-good revision")
    target = state.known_good
    abandon = other_color(target.color) if target.color in ("blue", "green") else None
    # Before retiring started the known-good colour was never scaled down; from then on (and for
    # every rollback operation, which may reach back to a retired colour) it must be brought up.
    scale_up = state.kind == "rollback" or state.phase in (
        Phase.RETIRING_BLUE,
        Phase.SUCCEEDED,
        Phase.ROLLING_BACK,
    )
    return RecoveryPlan(target, abandon, scale_up)
