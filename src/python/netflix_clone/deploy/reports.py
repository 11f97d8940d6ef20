"""Every deploy run leaves a JSON report (for CI) and a human one (for the people reading CI).

Both are written from the same state object the run saved last, passed through the redactor, so a
report never disagrees with the deploy record and never carries a secret.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Optional

from netflix_clone.deploy.domain.state import DeployState
from netflix_clone.platform.redaction import Redactor

__all__ = ["render_human", "write_reports"]


def _when(at: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(at))


def render_human(
    state: DeployState,
    outcome: str,
    post: Optional[dict[str, Any]] = None,
    next_step: Optional[str] = None,
) -> str:
    lines = [
        f"{state.environment} {state.kind} {state.deploy_id} of {state.service}: {outcome.upper()}",
        f"image: {state.image}",
    ]
    if state.reason:
        lines.append(f"reason: {state.reason}")
    if state.rollback_error:
        lines.append(f"ROLLBACK INCOMPLETE: {state.rollback_error}")
    if next_step:
        lines.append(f"next: {next_step}")
    if state.known_good:
        lines.append(f"known good: {state.known_good.describe()}")
    if state.live_color:
        lines.append(
            f"colours: {state.live_color} was live, {state.target_color} received "
            f"{'the new revision' if state.kind == 'deploy' else 'the rollback'}"
        )
    lines.append(f"revisions: {state.previous_task_definition} -> {state.new_task_definition}")
    lines.append(f"recorded phase: {state.phase}")
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
                + (f" ({v['baseline']})" if v.get("baseline") else "")
            )
            lines += [f"           {r}" for r in v["reasons"]]
    if post:
        lines.append("")
        lines.append("post-deploy:")
        for name, result in post.items():
            lines.append(f"  {name}: {'ok' if result.get('ok') else 'FAILED'} {result.get('detail', '')}".rstrip())
    return "\n".join(lines) + "\n"


def write_reports(
    directory: Path,
    state: DeployState,
    outcome: str,
    post: Optional[dict[str, Any]] = None,
    extra: Optional[dict[str, Any]] = None,
    redactor: Optional[Redactor] = None,
    next_step: Optional[str] = None,
) -> tuple[Path, Path]:
    redactor = redactor or Redactor()
    directory.mkdir(parents=True, exist_ok=True)
    # One pair per run: a record touched by several runs (a deploy, then the rollback that finished
    # it) keeps each run's report; the newest says how the record stands now.
    run = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}"
    stem = f"deploy-{state.environment}-{state.service}-{state.deploy_id}-{run}"
    data = {
        "outcome": outcome,
        "next_step": next_step,
        "state": state.as_dict(),
        "post_deploy": post or {},
        **(extra or {}),
    }
    json_path = directory / f"{stem}.json"
    json_path.write_text(
        json.dumps(redactor.redact_obj(data), indent=2, sort_keys=True, default=str) + "\n",
        encoding="utf-8",
    )
    text_path = directory / f"{stem}.txt"
    text_path.write_text(redactor.redact(render_human(state, outcome, post, next_step)), encoding="utf-8")
    return json_path, text_path
