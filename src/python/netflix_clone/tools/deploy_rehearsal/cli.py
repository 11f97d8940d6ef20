"""deploy-rehearse: run the deploy pex against a local AWS (moto + a stand-in) and check the outcome.

  deploy-rehearse --deploy-pex dist/src.python.netflix_clone.deploy/deploy.pex canary-succeeds
  deploy-rehearse ... canary-fails-at-10
  deploy-rehearse ... --tag v2 --fault 'kill@elbv2:ModifyListener/after#2' --then rollback custom

Scenarios: canary-succeeds, canary-fails-at-10, slow-green, crashing-green, killed-then-rollback,
killed-then-resume, custom (--tag, --fault, --then). Images: v2 (good), v2-5xx, v2-slow,
v2-unhealthy, v2-crash, v2-warmup-fails. Faults: KIND@SERVICE:ACTION[/before|after][#N][*TIMES][~MATCH]
with KIND one of kill, term, int, stop, http500, throttle, reset, hang, refuse, empty (see faults.py).

It prints every pex run (command, progress, outcome, exit code) and the invariants checked from AWS
afterwards: one colour live on the expected revision, healthy; the other at 0; no request without a
healthy task; the lock free; the record and the report agreeing; no secret in any output.
Exit 0 when every invariant holds, 1 otherwise, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

from netflix_clone.tools.deploy_rehearsal.faults import Fault, phase_marker
from netflix_clone.tools.deploy_rehearsal.invariants import Expectation
from netflix_clone.tools.deploy_rehearsal.rehearsal import Rehearsal, rehearsal

__all__ = ["main"]

SCENARIOS = (
    "canary-succeeds",
    "canary-fails-at-10",
    "slow-green",
    "crashing-green",
    "killed-then-rollback",
    "killed-then-resume",
    "custom",
)


def _scenario(rig: Rehearsal, args: argparse.Namespace) -> Expectation:
    name = args.scenario
    if name == "canary-succeeds":
        rig.deploy("v2", *args.extra)
        return Expectation("v2", "succeeded")
    if name == "canary-fails-at-10":
        rig.deploy("v2-5xx", *args.extra)
        return Expectation("v1", "rolled_back")
    if name == "slow-green":
        rig.deploy("v2-slow", *args.extra)
        return Expectation("v1", "rolled_back")
    if name == "crashing-green":
        rig.deploy("v2-crash", *args.extra)
        return Expectation("v1", "rolled_back")
    if name in ("killed-then-rollback", "killed-then-resume"):
        rig.deploy(
            "v2",
            *args.extra,
            faults=(Fault("dynamodb", "UpdateItem", "kill", match=phase_marker("baking")),),
        )
        rig.break_dead_lock()
        if name == "killed-then-rollback":
            rig.rollback()
            return Expectation("v1", "rolled_back")
        rig.resume()
        return Expectation("v2", "succeeded")
    faults = tuple(Fault.parse(f) for f in args.fault or ())
    first = rig.deploy(args.tag, *args.extra, faults=faults)
    outcome_tag = args.tag if first.exit_code in (0, 4) else "v1"
    phase: Optional[str] = "succeeded" if first.exit_code in (0, 4) else "rolled_back"
    for step in args.then or ():
        if step == "rollback":
            rig.break_dead_lock()
            rig.rollback()
            outcome_tag, phase = "v1", "rolled_back"
        elif step == "resume":
            rig.break_dead_lock()
            result = rig.resume()
            if result.exit_code == 0:
                outcome_tag, phase = args.tag, "succeeded"
        else:
            raise SystemExit(f"deploy-rehearse: unknown --then step {step!r} (rollback, resume)")
    return Expectation(outcome_tag, phase)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deploy-rehearse",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("scenario", choices=SCENARIOS)
    parser.add_argument(
        "--deploy-pex",
        default="dist/src.python.netflix_clone.deploy/deploy.pex",
        help="the deploy pex to rehearse (./pants package src/python/netflix_clone/deploy:deploy)",
    )
    parser.add_argument("--python", default=None, help="interpreter for the pex (default: this one)")
    parser.add_argument("--service", default="recommendation-service")
    parser.add_argument("--routing", choices=("listener", "rule"), default="listener")
    parser.add_argument("--tag", default="v2", help="custom: the image tag to deploy")
    parser.add_argument("--fault", action="append", help="custom: a fault to inject (repeatable)")
    parser.add_argument(
        "--then",
        action="append",
        choices=("rollback", "resume"),
        help="custom: what the operator does next",
    )
    parser.add_argument("--extra", action="append", default=[], help="an extra flag for the deploy (repeatable)")
    parser.add_argument("--workdir", default=None, help="keep reports here (default: a temporary directory)")
    parser.add_argument("--json", action="store_true")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    pex = Path(args.deploy_pex)
    if not pex.exists():
        print(f"deploy-rehearse: no deploy pex at {pex}; build it with "
              "`./pants package src/python/netflix_clone/deploy:deploy`", file=sys.stderr)  # fmt: skip
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        with rehearsal(pex.resolve(), workdir, service=args.service, routing=args.routing, python=args.python) as rig:
            expectation = _scenario(rig, args)
            violations = rig.check(expectation)
            report: dict[str, Any] = {
                "scenario": args.scenario,
                "expected": {"live": expectation.live_tag, "phase": expectation.phase},
                "runs": [{"args": r.args, "exit_code": r.exit_code, "seconds": round(r.seconds, 2)} for r in rig.runs],
                "violations": [str(v) for v in violations],
            }
            if args.json:
                print(json.dumps(report, indent=2))
            else:
                for run in rig.runs:
                    print(rig_transcript(run.transcript()))
                print(f"expected: {expectation.live_tag} live, record {expectation.phase}")
                print("invariants: " + ("all hold" if not violations else "VIOLATED"))
                for violation in violations:
                    print(f"  - {violation}")
    return 0 if not violations else 1


def rig_transcript(text: str) -> str:
    """The pex's JSON outcome is long; the transcript keeps the progress and the outcome line."""
    lines = text.splitlines()
    kept = [line for line in lines if not line.startswith((" ", "{", "}"))]
    return "\n".join(kept)


if __name__ == "__main__":
    sys.exit(main())
