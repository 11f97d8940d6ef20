"""Production blue-green deploys against moto (server mode) with scripted ECS progress and metrics."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest

from netflix_clone.deploy import cli as deploy_cli
from netflix_clone.deploy.adapters.notify import GrafanaClient
from netflix_clone.deploy.domain.analysis import AnalysisConfig, WindowMetrics
from netflix_clone.deploy.domain.strategies import plan_steps
from netflix_clone.deploy.errors import DeployFailed, LockHeld, Rejected
from netflix_clone.deploy.reports import render_human, write_reports
from netflix_clone.deploy.rollout.blue_green import ProductionSettings, production
from netflix_clone.deploy.rollout.post_deploy import PostDeploy, post_deploy
from netflix_clone.deploy.rollout.rollback import rollback
from netflix_clone_testing.deploy_world import Rig, SimulatedCrash, build_rig, healthy_metrics
from netflix_clone_testing.http_fakes import FakeHttp, deploy_endpoints

SETTINGS = ProductionSettings(
    steps=tuple(plan_steps("canary", canary_percent=10, canary_hold_s=300)),
    analysis=AnalysisConfig(min_requests=100),
    bake_s=300,
)


@pytest.fixture()
def http() -> Iterator[FakeHttp]:
    with deploy_endpoints() as server:
        yield server


@pytest.fixture()
def rig(aws_endpoint: str, http: FakeHttp) -> Rig:
    return build_rig(aws_endpoint, http)


def _settings(rig: Rig, **overrides: Any) -> ProductionSettings:
    return replace(SETTINGS, green_test_url=rig.http.url, **overrides)


def test_happy_path_canary(rig: Rig) -> None:
    state = production(rig.ctx, rig.target, rig.world.image, _settings(rig))
    assert state.phase == "succeeded" and state.reason is None
    assert state.previous_task_definition and state.new_task_definition
    assert state.image.split("@")[1].startswith("sha256:")  # pinned by digest, not by tag
    assert rig.weights() == {"blue": 0, "green": 100}
    assert rig.desired("green") == 2 and rig.desired("blue") == 0  # blue retired...
    td = boto3.client("ecs", region_name="us-east-1").describe_task_definition(
        taskDefinition=state.previous_task_definition
    )
    assert td["taskDefinition"]["status"] == "ACTIVE"  # ...but its revision kept for rollback
    new_td = boto3.client("ecs", region_name="us-east-1").describe_task_definition(
        taskDefinition=state.new_task_definition
    )
    assert new_td["taskDefinition"]["containerDefinitions"][0]["image"] == state.image
    shifts = [c[1] for c in rig.gateway.calls if c[0] == "set_weights"]
    assert shifts == [{"blue": 90, "green": 10}, {"blue": 0, "green": 100}]
    assert [v["result"] for v in state.verdicts if "result" in v] == ["pass", "pass"]
    assert [c.path for c in rig.http.requests if c.method == "GET"] == ["/healthz", "/readyz"]
    assert "started" in rig.slack_texts()[0] and "succeeded" in rig.slack_texts()[-1]
    assert state.known_good is not None and state.known_good.color == "blue"
    assert rig.lock.holder(rig.key()) is None  # lock released


def test_5xx_spike_at_the_10_percent_step_rolls_back(rig: Rig) -> None:
    base = healthy_metrics()

    def spiky(color: str, green_weight: int) -> WindowMetrics:
        m = base(color, green_weight)
        return replace(m, errors_5xx=int(m.requests * 0.08)) if color == "green" else m

    rig.gateway.metrics = spiky
    with pytest.raises(DeployFailed) as caught:
        production(rig.ctx, rig.target, rig.world.image, _settings(rig))
    reason = caught.value.reason
    assert caught.value.restored
    assert "analysis at 10% green: fail" in reason and "5xx rate 8.00% on green" in reason
    assert rig.weights() == {"blue": 100, "green": 0}
    assert rig.desired("green") == 0 and rig.desired("blue") == 2
    shifts = [c for c in rig.gateway.calls if c[0] in ("set_weights", "update_service")]
    # Traffic back to blue strictly before green is scaled down.
    assert shifts[-2] == ("set_weights", {"blue": 100, "green": 0})
    assert shifts[-1][0] == "update_service" and shifts[-1][1][2] == 0
    state = caught.value.state
    assert state is not None and state.phase == "rolled_back" and state.reason == reason
    assert reason in rig.slack_texts()[-1]


def test_latency_regression_rolls_back(rig: Rig) -> None:
    base = healthy_metrics()

    def slow(color: str, green_weight: int) -> WindowMetrics:
        m = base(color, green_weight)
        return replace(m, p99_ms=tuple(v * 2.5 for v in m.p99_ms)) if color == "green" else m

    rig.gateway.metrics = slow
    with pytest.raises(DeployFailed, match=r"p99 \d+ ms on green vs \d+ ms on blue .*Mann-Whitney p="):
        production(rig.ctx, rig.target, rig.world.image, _settings(rig))
    assert rig.weights() == {"blue": 100, "green": 0}


def test_unhealthy_green_never_gets_traffic(rig: Rig) -> None:
    rig.gateway.health["green"] = ["unhealthy"]
    with pytest.raises(DeployFailed, match=r"not stable after 600 s: .*targets \['unhealthy', 'unhealthy'\]"):
        production(rig.ctx, rig.target, rig.world.image, _settings(rig))
    assert not [c for c in rig.gateway.calls if c[0] == "set_weights" and c[1]["green"] > 0]
    assert rig.desired("green") == 0 and rig.weights() == {"blue": 100, "green": 0}


def test_ecs_circuit_breaker_rollback_is_a_failure_with_its_reason(rig: Rig) -> None:
    service = f"{rig.world.service}-green"
    rig.gateway.rollout[service] = ["IN_PROGRESS", "ROLLED_BACK"]
    rig.gateway.rollout_reason[service] = "ECS deployment circuit breaker: tasks failed to start."
    with pytest.raises(DeployFailed, match="circuit breaker.*tasks failed to start"):
        production(rig.ctx, rig.target, rig.world.image, _settings(rig))
    assert rig.weights() == {"blue": 100, "green": 0}


def test_no_data_is_never_a_pass(rig: Rig) -> None:
    base = healthy_metrics()
    rig.gateway.metrics = lambda color, w: WindowMetrics(0, 0, ()) if color == "green" else base(color, w)
    with pytest.raises(DeployFailed, match=r"nodata: no data: green served 0 requests"):
        production(rig.ctx, rig.target, rig.world.image, _settings(rig))
    recorded = rig.lock.load(rig.key())
    assert recorded is not None
    analyses = [v for v in recorded.verdicts if "result" in v]
    assert [v["result"] for v in analyses] == ["nodata"] * 3  # the window was extended twice first
    assert rig.weights() == {"blue": 100, "green": 0}


def test_lock_held_by_another_run(rig: Rig) -> None:
    rig.lock.acquire(rig.key(), "someone-else", 600)
    with pytest.raises(LockHeld, match="held by someone-else for another 600 s"):
        production(rig.ctx, rig.target, rig.world.image, _settings(rig))
    assert not [c for c in rig.gateway.calls if c[0] in ("set_weights", "update_service")]  # nothing touched
    rig.clock.sleep(601)  # the other run died; its lease expires
    assert production(rig.ctx, rig.target, rig.world.image, _settings(rig)).phase == "succeeded"


def test_interrupted_deploy_is_resumed(rig: Rig) -> None:
    settings = _settings(rig, steps=tuple(plan_steps("custom", step_s=60, custom=[10, 50, 100])))
    rig.gateway.crash_on_weight = 50
    with pytest.raises(SimulatedCrash):
        production(rig.ctx, rig.target, rig.world.image, settings)
    assert rig.weights() == {"blue": 50, "green": 50}  # left mid-shift, lock still held
    successor = rig.another_context("ci-run-2")
    with pytest.raises(Rejected, match="interrupted at shifting; run `deploy production --resume`"):
        rig.clock.sleep(3601)
        production(successor, rig.target, rig.world.image, settings)
    state = production(successor, rig.target, rig.world.image, settings, resume=True)
    assert state.phase == "succeeded" and rig.weights() == {"blue": 0, "green": 100}
    assert any("resumed by ci-run-2 at phase shifting, step 1" in e.message for e in state.events)
    shifts = [c[1]["green"] for c in rig.gateway.calls if c[0] == "set_weights"]
    assert shifts == [10, 50, 50, 100]  # step 2 re-applied once, nothing redone before it
    assert rig.desired("blue") == 0


def test_manual_rollback_after_a_successful_deploy(rig: Rig) -> None:
    state = production(rig.ctx, rig.target, rig.world.image, _settings(rig))
    old_td = state.previous_task_definition
    rolled = rollback(rig.ctx, rig.target, reason="bad recommendations reported").state
    assert rolled.phase == "rolled_back" and rolled.reason == "bad recommendations reported"
    assert rolled.kind == "rollback" and rolled.known_good is not None
    assert rig.weights() == {"blue": 100, "green": 0}
    assert rig.task_definition("blue") == old_td and rig.desired("blue") == 2 and rig.desired("green") == 0


def test_manual_rollback_of_an_interrupted_deploy(rig: Rig) -> None:
    rig.gateway.crash_on_weight = 10
    with pytest.raises(SimulatedCrash):
        production(rig.ctx, rig.target, rig.world.image, _settings(rig))
    rig.clock.sleep(3601)
    rolled = rollback(rig.another_context("ci-run-2"), rig.target, reason="operator aborted").state
    assert rolled.phase == "rolled_back" and rig.weights() == {"blue": 100, "green": 0} and rig.desired("green") == 0


def test_post_deploy_invalidation_warmup_grafana_and_reports(rig: Rig, tmp_path: Path) -> None:
    http = rig.http
    http.respond(
        "POST",
        "/api/dashboards/db",
        (412, {"status": "version-mismatch"}),
        (200, {"status": "success", "version": 8}),
    )
    http.respond(
        "GET",
        "/api/dashboards/uid/nfc-analytics",
        (200, {"dashboard": {"uid": "nfc-analytics", "version": 7}}),
    )
    http.respond("POST", "/api/annotations", (200, {"id": 42}))
    http.respond("POST", "/slack", (429, "rate limited", {"Retry-After": "2"}), (200, "ok"))
    state = production(rig.ctx, rig.target, rig.world.image, _settings(rig))
    dashboards = Path(deploy_cli.__file__).parent / "dashboards"  # the ones the pex ships
    assert sorted(p.name for p in dashboards.glob("*.json")) == ["analytics.json", "services.json"]
    post = PostDeploy(
        cloudfront_distribution_id=rig.world.distribution_id,
        invalidation_paths=tuple(f"/titles/{i}/*" for i in range(2500)),
        warm_cache=True,
        grafana=GrafanaClient(http.url, "test-key"),
        dashboards_dir=dashboards,
    )
    results = post_deploy(rig.ctx, rig.target, state, post)
    assert results["cloudfront"]["ok"] and len(results["cloudfront"]["invalidations"]) == 3  # batches of 1000
    cf = boto3.client("cloudfront", region_name="us-east-1")
    assert (
        len(cf.list_invalidations(DistributionId=rig.world.distribution_id)["InvalidationList"].get("Items", [])) == 3
    )
    assert results["warm_cache"] == {
        "ok": True,
        "task": results["warm_cache"]["task"],
        "exit_code": 0,
        "service": f"{rig.world.service}-green",
    }
    run = next(c for c in rig.gateway.calls if c[0] == "run_task")
    assert run[1][2][0] == "warm-cache" and run[1][0] == state.new_task_definition
    # The one-off task starts like the service's own tasks: Fargate in the service's subnets.
    assert run[1][3]["launchType"] == "FARGATE" and run[1][3]["networkConfiguration"]
    assert results["grafana"]["ok"] and results["grafana"]["annotation_id"] == 42
    saves = http.calls("POST", "/api/dashboards/db")
    assert saves[0].headers["Authorization"] == "Bearer test-key"
    assert saves[1].body["dashboard"]["version"] == 7  # conflict resolved from the current version
    annotation = http.calls("POST", "/api/annotations")[0].body
    assert annotation["tags"] == ["deploy", rig.world.service, "production"]
    assert len(http.calls("POST", "/slack")) >= 3  # the 429 was retried, not lost
    json_path, text_path = write_reports(tmp_path, state, "succeeded", results)
    text = text_path.read_text()
    assert "SUCCEEDED" in text and "analysis (green vs blue)" in text and "cloudfront: ok" in text
    assert json_path.exists() and render_human(state, "succeeded").startswith("production deploy")


def test_warm_cache_says_so_when_the_service_is_not_deployed(rig: Rig) -> None:
    state = production(rig.ctx, rig.target, rig.world.image, _settings(rig))
    results = post_deploy(
        rig.ctx,
        rig.target,
        state,
        PostDeploy(warm_cache=True, warm_cache_service="no-such-service"),
    )
    assert results["warm_cache"]["skipped"] and "no-such-service is not deployed in" in results["warm_cache"]["detail"]
