"""Every deploy run leaves a JSON report (for CI) and a human one (for the people reading CI)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional

from netflix_clone.deploy.domain.state import DeployState

__all__ = ["render_human", "write_reports"]


def _when(at: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(at))


def render_human(state: DeployState, outcome: str, post: Optional[dict[str, Any]] = None) -> str:
    lines = [
        f"{state.environment} deploy {state.deploy_id} of {state.service}: {outcome.upper()}",
        f"image: {state.image}",
    ]
    if state.reason:
        lines.append(f"reason: {state.reason}")
    if state.live_color:
        lines.append(
            f"colours: {state.live_color} was live, {state.target_color} received the new revision"
        )
    lines.append(f"revisions: {state.previous_task_definition} -> {state.new_task_definition}")
    lines.append("")
    lines.append("timeline:")
    lines += [f"  {_when(e.at)}  {e.phase:<15} {e.message}" for e in state.events]
    analyses = [v for v in state.verdicts if "result" in v]
    if analyses:
        lines.append("")
        lines.append("analysis (green vs blue):")
        for v in analyses:
            g, b = v["green"], v["blue"]
            lines.append(
                f"  {v['label']:<8} {v['green_weight']:>3}% green  {v['result']:<8} "
                f"green {g['requests']} req, 5xx {g['error_rate']:.2%}, p99 {g['p99_ms_median']} ms | "
                f"blue {b['requests']} req, 5xx {b['error_rate']:.2%}, p99 {b['p99_ms_median']} ms"
            )
            lines += [f"           {r}" for r in v["reasons"]]
    if post:
        lines.append("")
        lines.append("post-deploy:")
        for name, result in post.items():
            lines.append(
                f"  {name}: {'ok' if result.get('ok') else 'FAILED'} {result.get('detail', '')}".rstrip()
            )
    return "\n".join(lines) + "\n"


def write_reports(
    directory: Path,
    state: DeployState,
    outcome: str,
    post: Optional[dict[str, Any]] = None,
    extra: Optional[dict[str, Any]] = None,
) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"deploy-{state.environment}-{state.service}-{state.deploy_id}"
    data = {"outcome": outcome, "state": asdict(state), "post_deploy": post or {}, **(extra or {})}
    json_path = directory / f"{stem}.json"
    json_path.write_text(
        json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )
    text_path = directory / f"{stem}.txt"
    text_path.write_text(render_human(state, outcome, post), encoding="utf-8")
    return json_path, text_path
