"""Fault matrix, part 3: operators, analysis and configuration, each row against the built pex.

Rollbacks that must not flip colours on a guess, drift repaired to the record, a run that lost its
lock stopping cold, analysis that never passes without evidence, bad input rejected before anything
changes (exit 2, one line), per-service wiring enforced, listener rules left to their owners.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import boto3
import pytest

from netflix_clone.tools.deploy_rehearsal.faults import Fault, phase_marker
from netflix_clone.tools.deploy_rehearsal.invariants import Expectation
from netflix_clone.tools.deploy_rehearsal.rehearsal import Rehearsal, rehearsal
from netflix_clone_testing.deploy_matrix import DEPLOY_PEX, Case, mutating_calls, play

ANALYSIS = [
    Case("canary with 8% 5xx on green rolls back at 10%", tag="v2-5xx", stdout_has=("5xx rate",)),
    Case("p99 regression on green rolls back", tag="v2-slow", stdout_has=("Mann-Whitney",)),
    Case(
        "tasks that crash trip ECS's circuit breaker",
        tag="v2-crash",
        stdout_has=("circuit breaker",),
    ),
    Case("unhealthy targets never get traffic", tag="v2-unhealthy", stdout_has=("not stable after",)),
    # Issue 14, case 7: blue reporting nothing is no baseline, never a pass.
    Case(
        "blue reports no requests: no data, rolled back",
        faults=("empty@cloudwatch:GetMetricData*0~targetgroup/b0-",),
        stdout_has=("no baseline, blue served 0 requests",),
    ),
    # Issue 14, case 8: a healthy low-traffic service reaches 100 % (pooled baseline) and succeeds.
    Case(
        "low traffic: 100% windows judged against pooled blue history",
        args=("--canary-percent", "50", "--min-requests", "25"),
        requests_per_s=60,
        exit_code=0,
        live="v2",
        phase="succeeded",
    ),
    Case(
        "linear 50% steps",
        args=("--strategy", "linear", "--linear-percent", "50"),
        exit_code=0,
        live="v2",
        phase="succeeded",
    ),
    Case("all at once", args=("--strategy", "all-at-once"), exit_code=0, live="v2", phase="succeeded"),
    Case(
        "custom 5,50,100",
        args=("--strategy", "custom", "--steps", "5,50,100"),
        exit_code=0,
        live="v2",
        phase="succeeded",
    ),
]

OPERATOR = [
    # Issue 14, case 1: the deploy already rolled itself back; rollback changes nothing.
    Case("rollback after an automatic rollback is a no-op", tag="v2-5xx", then=("rollback",)),
    Case(
        "rollback after success returns to the previous colour",
        exit_code=0,
        then=("rollback", "rollback-again"),
    ),
    Case(
        "resume with nothing interrupted is rejected",
        exit_code=0,
        then=("resume",),
        then_exit=(2,),
        live="v2",
        phase="succeeded",
    ),
]

USAGE = [
    Case(
        "unknown image tag",
        tag="v9",
        exit_code=2,
        phase=None,
        changes_nothing=True,
        stderr_has=("rejected: image",),
    ),
    Case(
        "unknown listener",
        env=(("NFC_DEPLOY_LB_LISTENER_ARN", "{bogus_listener}"),),
        exit_code=2,
        phase=None,
        changes_nothing=True,
        stderr_has=("ListenerNotFound",),
    ),
    *(
        Case(
            f"--steps {steps}",
            args=("--strategy", "custom", "--steps", steps),
            exit_code=2,
            phase=None,
            changes_nothing=True,
        )
        for steps in ("5,200", "50,25", "5,x")
    ),
    Case(
        "no AWS credentials",
        env=(
            ("AWS_ACCESS_KEY_ID", None),
            ("AWS_SECRET_ACCESS_KEY", None),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
            ("AWS_CONFIG_FILE", "/nonexistent"),
        ),
        exit_code=2,
        phase=None,
        changes_nothing=True,
        stderr_has=("no usable AWS credentials",),
    ),  # fmt: skip
    # Hostile or careless input: exit 2, one line, nothing changed, no secret echoed (attack review).
    *(
        Case(
            f"bad input: {name}",
            args=args,
            env=env,
            exit_code=2,
            phase=None,
            changes_nothing=True,
            stderr_has=(expect,),
        )
        for name, args, env, expect in (
            ("--poll-s nan", ("--poll-s", "nan"), (), "finite"),
            ("--lock-ttl-s inf", ("--lock-ttl-s", "inf"), (), "finite"),
            ("--recovery-timeout-s nan", ("--recovery-timeout-s", "nan"), (), "finite"),
            ("NFC_LOG_LEVEL=BOGUS", (), (("NFC_LOG_LEVEL", "BOGUS"),), "NFC_LOG_LEVEL: Input should be"),
            ("unwritable --report-dir", ("--report-dir", "/dev/null/x"), (), "not writable"),
            ("a green check without a status", ("--green-check", "GET /x notanumber"), (), "check"),
            ("an empty --lock-table", ("--lock-table", ""), (), "--lock-table"),
            ("--region 'not a region'", ("--region", "not a region"), (), "region"),
            ("--resume with --image", ("--resume",), (), "drop --image"),
            ("--steps without --strategy custom", ("--steps", "5,50,100"), (), "--strategy custom"),
            ("a lease shorter than three AWS calls", ("--lock-ttl-s", "5"), (), "too short"),
            (
                "60 s steps with 60 s periods and 3 samples",
                (
                    "--strategy",
                    "linear",
                    "--step-minutes",
                    "1",
                    "--metric-period-s",
                    "60",
                    "--min-latency-samples",
                    "3",
                ),
                (),
                "could never judge latency",
            ),
            (
                "a lock table that does not exist",
                (),
                (("NFC_DEPLOY_LOCK_TABLE", "no-such-table"),),
                "deploy init",
            ),
            (
                "SLACK_WEBHOOK with a trailing newline",
                (),
                (("NFC_DEPLOY_SLACK_WEBHOOK", "{slack}\n"),),
                "NFC_DEPLOY_SLACK_WEBHOOK",
            ),
            ("a secret pasted into a flag", ("--lock-ttl-s", "{grafana_key}"), (), "not a number"),
        )
    ),
    Case("an image with a newline", tag="v2\nx", exit_code=2, phase=None, changes_nothing=True),
    # Issue 14, case 6: botocore reads AWS_DEFAULT_REGION; AWS_REGION alone must be enough.
    Case(
        "AWS_REGION only",
        env=(("AWS_DEFAULT_REGION", None),),
        exit_code=0,
        live="v2",
        phase="succeeded",
    ),
    Case(
        "AWS_DEFAULT_REGION only",
        env=(("AWS_REGION", None), ("AWS_DEFAULT_REGION", "us-east-1")),
        exit_code=0,
        live="v2",
        phase="succeeded",
    ),
    # Issue 14, case 4: another application's target group configured as green: refused.
    Case(
        "green target group belongs to another service",
        env=(("NFC_DEPLOY_GREEN_TARGET_GROUP_ARN", "{other_app_tg}"),),
        exit_code=2,
        phase=None,
        changes_nothing=True,
        stderr_has=("not",),
    ),
    # Issue 14, case 10: with a rule, the listener's default action (another app) is never touched.
    Case("rule routing: canary succeeds", routing="rule", exit_code=0, live="v2", phase="succeeded"),
    Case("rule routing: 5xx canary rolls back", routing="rule", tag="v2-5xx"),
    Case(
        "shared listener without a rule is refused",
        routing="rule",
        env=(("NFC_DEPLOY_LB_RULE_ARN", None),),
        exit_code=2,
        phase=None,
        changes_nothing=True,
        stderr_has=("not recommendation-service's blue/green pair",),
    ),
]


@pytest.mark.parametrize("case", ANALYSIS + OPERATOR + USAGE, ids=str)
def test_row(case: Case, aws_endpoint: str, tmp_path: Path) -> None:
    _, runs, problems = play(case, aws_endpoint, tmp_path)
    assert not problems, "\n".join(problems + [r.transcript() for r in runs])


def _rig(aws_endpoint: str, tmp_path: Path, **kw: Any) -> AbstractContextManager[Rehearsal]:
    return rehearsal(DEPLOY_PEX, tmp_path, moto_url=aws_endpoint, python=sys.executable, **kw)


def test_green_tests_fail(aws_endpoint: str, tmp_path: Path) -> None:
    with _rig(aws_endpoint, tmp_path) as rig:
        # The fake HTTP server answers 404 on /healthz: the green checks fail before any shift.
        result = rig.deploy("v2", "--green-test-url", rig.grafana_url)
        assert result.exit_code == 1 and "tests against green failed" in result.stdout
        assert max(split.get(rig.svc.green_tg, 0) for _, split in rig.standin.traffic.history) == 0
        assert not rig.check(Expectation("v1", "rolled_back"))


def test_rollback_with_nothing_deployed_is_rejected(aws_endpoint: str, tmp_path: Path) -> None:
    """Issue 14, case 9: no record, no rollback - colours are never flipped on a guess."""
    with _rig(aws_endpoint, tmp_path) as rig:
        result = rig.rollback()
        assert result.exit_code == 2 and "nothing to roll back" in result.stderr
        assert not mutating_calls(rig)
        assert not rig.check(Expectation("v1", None))


def test_rollback_repairs_drift_to_the_record(aws_endpoint: str, tmp_path: Path) -> None:
    with _rig(aws_endpoint, tmp_path) as rig:
        assert rig.deploy("v2-5xx").exit_code == 1
        assert rig.rollback().exit_code == 0 and "nothing to roll back" in rig.runs[-1].stderr
        # Someone splits traffic by hand after the automatic rollback: the record says blue.
        elb = boto3.client("elbv2", endpoint_url=rig.standin.moto_url, region_name="us-east-1")
        split: list[Any] = [
            {"TargetGroupArn": rig.svc.blue_tg, "Weight": 50},
            {"TargetGroupArn": rig.svc.green_tg, "Weight": 50},
        ]
        action: Any = {"Type": "forward", "ForwardConfig": {"TargetGroups": split}}
        elb.modify_listener(ListenerArn=rig.svc.listener_arn, DefaultActions=[action])
        rig.standin.traffic.refresh_weights()
        refused = rig.deploy("v2")  # a deploy will not start on a split it did not make
        assert refused.exit_code == 2 and "splits traffic" in refused.stderr
        # Green has no tasks: the half sent there by hand is dropped - the drift being repaired.
        repaired = rig.rollback()
        assert repaired.exit_code == 0 and repaired.json["outcome"] == "rolled back", repaired.transcript()
        assert "drifted" in repaired.stderr
        after_repair = rig.standin.traffic.dropped(rig.service)
        time.sleep(0.5)
        assert rig.standin.traffic.dropped(rig.service) == after_repair, "still dropping after the repair"
        problems = [v for v in rig.check(Expectation("v1", "rolled_back")) if v.rule != "zero downtime"]
        assert not problems


def test_new_deploy_refused_while_one_is_interrupted(aws_endpoint: str, tmp_path: Path) -> None:
    with _rig(aws_endpoint, tmp_path) as rig:
        rig.deploy("v2", faults=(Fault("dynamodb", "UpdateItem", "kill", match=phase_marker("shifting")),))
        rig.break_dead_lock()
        before = len(rig.standin.calls)
        refused = rig.deploy("v2")
        assert refused.exit_code == 2 and "was interrupted at" in refused.stderr
        assert not mutating_calls(rig, before)
        assert rig.rollback().exit_code == 0
        assert not rig.check(Expectation("v1", "rolled_back"))


def test_lock_held_by_a_live_run_and_break_lock_by_token(aws_endpoint: str, tmp_path: Path) -> None:
    with _rig(aws_endpoint, tmp_path) as rig:
        # A long canary keeps the first deploy running while the rest of the test acts.
        first = rig.start(
            rig.command(
                "production",
                "--image",
                rig.svc.image("v2"),
                "--lock-ttl-s",
                "60",
                "--canary-minutes",
                "0.25",
            )
        )
        started = time.monotonic()
        while not any(c.action == "UpdateService" for c in rig.standin.calls):
            if first.poll() is not None or time.monotonic() - started > 120:
                pytest.fail(rig.finish(first, ["production"], started).transcript())
            time.sleep(0.05)
        holder = rig.status()["lock"]
        assert holder and not holder["expired"]
        second = rig.run("production", "--image", rig.svc.image("v2"))
        assert second.exit_code == 3 and "held by" in second.stderr
        wrong = rig.run("break-lock", "--token", "0" * 32)
        assert wrong.exit_code == 2 and holder["token"] in wrong.stderr
        live = rig.run("break-lock", "--token", holder["token"])  # a live lease needs --force
        assert live.exit_code == 2 and "--force" in live.stderr
        done = rig.finish(first, ["production"], started)
        assert done.exit_code == 0, done.transcript()
        assert rig.status()["lock"] is None
        assert not rig.check(Expectation("v2", "succeeded"))


def test_a_run_that_lost_its_lock_stops_without_touching_anything(aws_endpoint: str, tmp_path: Path) -> None:
    """Issue 14, case 3: the stale run is paused past its lease while an operator rolls back; when it
    wakes it must not finish its bake, retire blue, or overwrite the operator's record."""
    with _rig(aws_endpoint, tmp_path) as rig:
        rig.standin.inject(Fault("dynamodb", "UpdateItem", "stop", match=phase_marker("baking")))
        stale = rig.start(
            rig.command(
                "production", "--image", rig.svc.image("v2"),
                "--lock-ttl-s", "12", "--aws-max-attempts", "1", "--aws-timeout-s", "2",
            )
        )  # fmt: skip
        started = time.monotonic()
        while not any("stop" in c.fault for c in rig.standin.calls):
            if stale.poll() is not None or time.monotonic() - started > 120:
                pytest.fail(rig.finish(stale, ["production"], started).transcript())
            time.sleep(0.05)
        time.sleep(13)  # the stale run's lease expires while it is stopped
        operator = rig.rollback()
        assert operator.exit_code == 0, operator.transcript()
        calls_before_wake = len(rig.standin.calls)
        rig.standin.client_pid = stale.pid
        rig.standin.resume_client()
        woke = rig.finish(stale, ["production (stale)"], started)
        assert woke.exit_code == 3, woke.transcript()
        assert "lost the deploy lock" in woke.stdout + woke.stderr
        assert not mutating_calls(rig, calls_before_wake), "the stale run changed AWS after losing its lock"
        assert not rig.check(Expectation("v1", "rolled_back"))


def test_dry_run_says_when_the_live_colour_is_assumed(aws_endpoint: str, tmp_path: Path) -> None:
    """Issue 14, case 13: a plan that could not read the listener says so on every line."""
    with _rig(aws_endpoint, tmp_path) as rig:
        ok = rig.run("production", "--image", rig.svc.image("v2"), "--dry-run")
        plan = json.loads(ok.stdout)
        assert ok.exit_code == 0 and plan["live_color"] == "blue" and plan["note"] is None
        blind = rig.run(
            "production", "--image", rig.svc.image("v2"), "--dry-run",
            faults=(Fault("elbv2", "DescribeListeners", "http500", times=0),),
        )  # fmt: skip
        plan = json.loads(blind.stdout)
        assert blind.exit_code == 0 and plan["live_color"] is None and plan["live_color_assumed"] == "blue"
        assert "listener not readable" in plan["note"]
        colour_lines = [line for line in plan["plan"] if "blue" in line]
        assert colour_lines and all("assumed" in line for line in colour_lines), colour_lines
        assert not mutating_calls(rig)


def test_second_signal_during_rollback_is_deferred(aws_endpoint: str, tmp_path: Path) -> None:
    with _rig(aws_endpoint, tmp_path) as rig:
        process = rig.start(rig.command("production", "--image", rig.svc.image("v2-5xx")))
        started = time.monotonic()
        while not any(c.action == "ModifyListener" for c in rig.standin.calls):
            if process.poll() is not None or time.monotonic() - started > 120:
                pytest.fail(rig.finish(process, ["production"], started).transcript())
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        result = rig.finish(process, ["production"], started)
        assert result.exit_code == 1, result.transcript()
        assert not rig.check(Expectation("v1", "rolled_back"))


REHEARSE_PEX = Path("src.python.netflix_clone.tools.deploy_rehearsal/deploy-rehearse.pex").resolve()


@pytest.mark.parametrize("scenario", ["canary-fails-at-10", "killed-then-rollback"])
def test_the_shipped_rehearsal_tool(scenario: str, tmp_path: Path) -> None:
    """`deploy-rehearse` (the pex users run) rehearses a scenario end to end and checks it."""
    import subprocess  # nosec B404 - our own pex

    result = subprocess.run(  # nosec B603
        [sys.executable, str(REHEARSE_PEX), scenario, "--deploy-pex", str(DEPLOY_PEX),
         "--python", sys.executable, "--workdir", str(tmp_path), "--json"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["violations"] == [], result.stdout + result.stderr
    assert report["expected"] == {"live": "v1", "phase": "rolled_back"}
    assert list((tmp_path / "reports").glob("*.txt"))


def test_rollback_and_resume_refuse_other_wiring(aws_endpoint: str, tmp_path: Path) -> None:
    """Attack review 2R/2U/SW: a rollback or resume given another service's rule, or swapped target
    groups, must refuse before touching anything (it used to rewrite the other service's traffic).
    """
    services = ("recommendation-service", "video-processor")
    with _rig(aws_endpoint, tmp_path, routing="rule", services=services) as rig:
        assert rig.deploy("v2").exit_code == 0
        other = rig.world.services["video-processor"]
        env = rig.env()
        env["NFC_DEPLOY_LB_RULE_ARN"] = other.rule_arn
        before = len(rig.standin.calls)
        foreign = rig.run("rollback", env=env)
        assert foreign.exit_code == 2 and "was recorded with" in foreign.stderr, foreign.transcript()
        env = rig.env()
        env["NFC_DEPLOY_BLUE_TARGET_GROUP_ARN"], env["NFC_DEPLOY_GREEN_TARGET_GROUP_ARN"] = (
            rig.svc.green_tg,
            rig.svc.blue_tg,
        )
        swapped = rig.run("rollback", env=env)
        assert swapped.exit_code == 2, swapped.transcript()
        assert not mutating_calls(rig, before)
        assert rig.rollback().exit_code == 0
        assert not rig.check(Expectation("v1", "rolled_back"))


def test_an_interrupted_rollback_is_finished_not_resumed_as_a_deploy(aws_endpoint: str, tmp_path: Path) -> None:
    """Attack review E: SIGTERM while a rollback records its start."""
    with _rig(aws_endpoint, tmp_path) as rig:
        assert rig.deploy("v2").exit_code == 0
        first_record = Fault("dynamodb", "UpdateItem", "term", match='\\"kind\\": \\"rollback\\"')
        rolled = rig.rollback(faults=(first_record,))
        assert rolled.exit_code == 0, rolled.transcript()  # the rollback finished regardless
        assert not rig.check(Expectation("v1", "rolled_back"))
        resumed = rig.run("production", "--resume")
        assert resumed.exit_code == 2 and "nothing to resume" in resumed.stderr


def test_a_lost_answer_to_break_lock_still_reports_the_removal(aws_endpoint: str, tmp_path: Path) -> None:
    with _rig(aws_endpoint, tmp_path) as rig:
        rig.deploy("v2", faults=(Fault("dynamodb", "UpdateItem", "kill", match=phase_marker("shifting")),))
        token = rig.lock_token()
        assert token
        lost = Fault("dynamodb", "UpdateItem", "reset", when="after", match="REMOVE lock_owner")
        broke = rig.run("break-lock", "--token", token, "--force", faults=(lost,))
        assert broke.exit_code == 0 and rig.lock_token() is None, broke.transcript()
        assert rig.rollback().exit_code == 0
        assert not rig.check(Expectation("v1", "rolled_back"))
