"""Staging deploys, Slack retries and the deploy CLI (dry run, lock exit code, reports)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from netflix_clone.deploy.adapters.aws_gateway import Boto3Gateway, Route
from netflix_clone.deploy.adapters.lock import DeployLock
from netflix_clone.deploy.adapters.notify import NotifyError, SlackNotifier
from netflix_clone.deploy.cli import main
from netflix_clone.deploy.errors import DeployFailed
from netflix_clone.deploy.rollout.context import RolloutContext
from netflix_clone.deploy.rollout.staging import staging as staging_deploy
from netflix_clone_testing.deploy_world import ScriptedGateway, World, build_rig, build_world
from netflix_clone_testing.http_fakes import FakeHttp, deploy_endpoints


@pytest.fixture()
def http() -> Iterator[FakeHttp]:
    with deploy_endpoints() as server:
        yield server


@pytest.fixture()
def staging(aws_endpoint: str, http: FakeHttp) -> tuple[World, ScriptedGateway, RolloutContext]:
    rig = build_rig(aws_endpoint, http, owner="ci-staging")
    return rig.world, rig.gateway, rig.ctx


def _service_td(world: World, gateway: ScriptedGateway) -> str:
    status = gateway.real.service_status(world.cluster, f"{world.service}-blue")
    assert status.task_definition is not None
    return status.task_definition


def test_staging_happy_path(staging: tuple[World, ScriptedGateway, RolloutContext], http: FakeHttp) -> None:
    world, gateway, ctx = staging
    state = staging_deploy(
        ctx,
        world.cluster,
        f"{world.service}-blue",
        world.image,
        world.blue_tg,
        http.url,
        ("GET /healthz 200",),
    )
    assert state.phase == "succeeded" and _service_td(world, gateway) == state.new_task_definition
    assert state.verdicts[0]["smoke"][0]["ok"] is True


def test_staging_circuit_breaker_failure_restores_the_previous_revision(
    staging: tuple[World, ScriptedGateway, RolloutContext]
) -> None:
    world, gateway, ctx = staging
    service = f"{world.service}-blue"
    before = _service_td(world, gateway)
    gateway.rollout[service] = ["IN_PROGRESS", "FAILED"]
    gateway.rollout_reason[service] = "ECS deployment circuit breaker: 3 tasks failed health checks."
    with pytest.raises(DeployFailed, match="failed on .*3 tasks failed health checks") as caught:
        staging_deploy(ctx, world.cluster, service, world.image, world.blue_tg, None, ())
    assert caught.value.state is not None and caught.value.state.phase == "rolled_back"
    assert _service_td(world, gateway) == before


def test_staging_smoke_failure_rolls_back(
    staging: tuple[World, ScriptedGateway, RolloutContext], http: FakeHttp
) -> None:
    world, gateway, ctx = staging
    http.respond("GET", "/healthz", (503, {"status": "down"}))
    before = _service_td(world, gateway)
    with pytest.raises(DeployFailed, match=r"smoke tests failed: GET /healthz 200 -> 503"):
        staging_deploy(
            ctx,
            world.cluster,
            f"{world.service}-blue",
            world.image,
            world.blue_tg,
            http.url,
            ("GET /healthz 200",),
        )
    assert _service_td(world, gateway) == before
    assert "smoke tests failed" in http.calls("POST", "/slack")[-1].body["text"]


def test_unknown_image_fails_before_touching_anything(staging: tuple[World, ScriptedGateway, RolloutContext]) -> None:
    world, gateway, ctx = staging
    with pytest.raises(Exception, match="not found"):
        staging_deploy(
            ctx,
            world.cluster,
            f"{world.service}-blue",
            world.image.replace(":v2", ":v9"),
            None,
            None,
            (),
        )
    assert not [c for c in gateway.calls if c[0] in ("update_service", "set_weights")]


def test_slack_retries_429_then_gives_up_with_the_reason(http: FakeHttp) -> None:
    waits: list[float] = []
    http.respond("POST", "/slack", (429, "slow down", {"Retry-After": "3"}), (500, "oops"), (200, "ok"))
    assert SlackNotifier(http.url + "/slack", sleep=waits.append).send("hello") == 3
    assert waits[0] == 3.0
    http.respond("POST", "/slack", (404, "no_team"))
    with pytest.raises(NotifyError, match="HTTP 404"):
        SlackNotifier(http.url + "/slack", sleep=waits.append).send("hello")


def _prod_args(world: World, tmp_path: Path) -> list[str]:
    return [
        "production",
        "--service", "recommendation-service",
        "--cluster", world.cluster,
        "--image", world.image,
        "--listener-arn", world.listener_arn,
        "--blue-target-group", world.blue_tg,
        "--green-target-group", world.green_tg,
        "--lock-table", world.table,
        "--report-dir", str(tmp_path / "reports"),
    ]  # fmt: skip


def test_cli_dry_run_prints_the_plan_and_changes_nothing(
    aws_endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = build_world(aws_endpoint)
    code = main(
        [
            *_prod_args(world, tmp_path),
            "--strategy",
            "linear",
            "--dry-run",
            "--invalidate",
            "/*",
            "--cloudfront-distribution-id",
            world.distribution_id,
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert (
        "DRY RUN" in out
        and "weights: green 10% / blue 90%" in out
        and "green 100% / blue 0%" in out
        and "live colour: blue\n" in out
    )
    assert "invalidate 1 path(s)" in out
    assert Boto3Gateway("us-east-1").route_weights(Route(world.listener_arn)) == {
        world.blue_tg: 100,
        world.green_tg: 0,
    }
    code = main([*_prod_args(world, tmp_path), "--dry-run", "--json"])
    plan = json.loads(capsys.readouterr().out)
    assert plan["dry_run"] and plan["live_color"] == "blue" and [s["green_weight"] for s in plan["steps"]] == [10, 100]


def test_cli_lock_held_exit_code(aws_endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    world = build_world(aws_endpoint)
    lock = DeployLock(world.table, boto3.client("dynamodb", region_name="us-east-1"))
    lock.ensure_table()
    lock.acquire("production#recommendation-service", "github-run-7", 900)
    code = main([*_prod_args(world, tmp_path), "--json"])
    assert code == 3
    assert "held by github-run-7" in json.loads(capsys.readouterr().out)["reason"]


def test_cli_init_creates_the_table_once_and_a_deploy_never_does(
    aws_endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo in --lock-table must not create a second table (two runs would then both hold "the"
    lock); `deploy init` is the only way a table comes to exist, and it needs no --service."""
    world = build_world(aws_endpoint)
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    typo = f"{world.table}-typo"
    args = [a if a != world.table else typo for a in _prod_args(world, tmp_path)]
    assert main([*args, "--json"]) == 2
    rejected = json.loads(capsys.readouterr().out)
    assert "deploy init" in rejected["reason"]
    assert typo not in dynamodb.list_tables()["TableNames"]
    assert main(["init", "--lock-table", typo, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["outcome"] == "created"
    assert typo in dynamodb.list_tables()["TableNames"]
    assert main(["init", "--lock-table", typo, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["outcome"] == "exists"
