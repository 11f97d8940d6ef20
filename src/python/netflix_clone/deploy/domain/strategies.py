"""Traffic-shifting plans: the green weight at each step and how long it is watched before the next."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from netflix_clone.deploy.errors import StrategyError

__all__ = ["Step", "StrategyError", "parse_steps", "plan_steps", "STRATEGIES"]

STRATEGIES = ("canary", "linear", "all-at-once", "custom")


@dataclass(frozen=True)
class Step:
    green_weight: int  # percent of traffic to green
    hold_s: float  # analysis window at this weight before moving on

    def as_dict(self) -> dict[str, object]:
        return {"green_weight": self.green_weight, "hold_s": self.hold_s}


def parse_steps(text: str) -> list[int]:
    """``"5,25,50,100"`` -> ``[5, 25, 50, 100]``; anything else is a StrategyError naming the problem.

    >>> parse_steps("5, 25,100")
    [5, 25, 100]
    >>> parse_steps("5,x")
    Traceback (most recent call last):
    ...
    netflix_clone.deploy.domain.strategies.StrategyError: steps must be whole percentages ...
    """
    weights = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit():
            raise StrategyError(f"steps must be whole percentages separated by commas, got {part!r} in {text!r}")
        weights.append(int(part))
    if any(not 0 < w <= 100 for w in weights) or weights != sorted(set(weights)):
        raise StrategyError(f"steps must rise strictly within 1..100, got {text!r}")
    if weights[-1] != 100:
        raise StrategyError(f"steps must end at 100, got {text!r}")
    return weights


def plan_steps(
    strategy: str,
    step_s: float = 60.0,
    canary_percent: int = 10,
    canary_hold_s: float = 300.0,
    linear_percent: int = 10,
    custom: Optional[list[int]] = None,
) -> list[Step]:
    """Steps ending at 100 % green. The last step's watching is the bake time, not part of the plan.

    * canary: ``canary_percent`` for ``canary_hold_s``, then 100 %.
    * linear: +``linear_percent`` every ``step_s`` (10 % per minute by default).
    * all-at-once: 100 % immediately.
    * custom: the given percentages, each held ``step_s``.
    """
    if strategy == "canary":
        if not 0 < canary_percent < 100:
            raise StrategyError(f"canary percent must be in 1..99, got {canary_percent}")
        return [Step(canary_percent, canary_hold_s), Step(100, 0.0)]
    if strategy == "linear":
        if not 0 < linear_percent <= 100:
            raise StrategyError(f"linear increment must be in 1..100, got {linear_percent}")
        weights = list(range(linear_percent, 100, linear_percent)) + [100]
        return [Step(w, step_s if w < 100 else 0.0) for w in weights]
    if strategy == "all-at-once":
        return [Step(100, 0.0)]
    if strategy == "custom":
        if not custom:
            raise StrategyError("custom strategy needs --steps, e.g. 5,25,50,100")
        if any(not 0 < w <= 100 for w in custom) or custom != sorted(set(custom)):
            raise StrategyError(f"custom steps must rise strictly within 1..100, got {custom}")
        if custom[-1] != 100:
            raise StrategyError("custom steps must end at 100")
        return [Step(w, step_s if w < 100 else 0.0) for w in custom]
    raise StrategyError(f"unknown strategy {strategy!r} (known: {', '.join(STRATEGIES)})")
