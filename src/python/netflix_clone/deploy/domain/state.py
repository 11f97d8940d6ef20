"""The persisted state of one deploy: enough to resume it or roll it back from another machine.

Production phases, in order (each is recorded before its side effects start, so a resumed deploy
redoes at most the one interrupted phase, and every phase's actions are idempotent):

    started -> green_deploying -> green_healthy -> green_tested -> shifting -> baking -> retiring_blue
    -> succeeded
    any phase -> rolling_back -> rolled_back          (analysis or check failed; exit non-zero)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

__all__ = ["DeployState", "Event", "TERMINAL", "other_color"]

TERMINAL = ("succeeded", "rolled_back", "failed")


def other_color(color: str) -> str:
    if color not in ("blue", "green"):
        raise ValueError(f"unknown colour {color!r}")
    return "green" if color == "blue" else "blue"


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
    phase: str = "started"
    live_color: Optional[str] = None  # colour serving 100 % before this deploy
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
    started_at: float = 0.0
    finished_at: Optional[float] = None

    def record(self, at: float, phase: str, message: str) -> None:
        self.phase = phase
        self.events.append(Event(at, phase, message))

    @property
    def terminal(self) -> bool:
        return self.phase in TERMINAL

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "DeployState":
        data = json.loads(text)
        data["events"] = [Event(**e) for e in data.get("events", [])]
        return cls(**data)
