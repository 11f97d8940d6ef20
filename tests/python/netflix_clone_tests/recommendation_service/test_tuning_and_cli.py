"""Self-tuning training (validation from training history only, within a budget, stored and reported)
and the command line's failure modes (truncated artifacts, secrets in output)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import psycopg2
import pytest

from netflix_clone.contracts.viewing_history import POSTGRES_DDL
from netflix_clone.recommendation_service.cli import main
from netflix_clone.recommendation_service.domain.interactions import build_interactions
from netflix_clone.recommendation_service.synthetic import synthetic_history
from netflix_clone.recommendation_service.training import evaluation, tuning
from netflix_clone.recommendation_service.training.als import AlsParams
from netflix_clone.recommendation_service.training.tuning import TuningOptions, tune, validation_split


@pytest.fixture(scope="module")
def interactions():
    h = synthetic_history(users=400, items=150, sessions_per_user=25, seed=5)
    return build_interactions(h.user_id, h.title_id, h.completion, h.started_at)


def test_validation_split_holds_out_part_of_each_users_titles(interactions) -> None:
    fit, held = validation_split(interactions.matrix, 0.2, seed=1)
    assert fit.nnz + sum(len(v) for v in held.values()) == interactions.matrix.nnz
    for user, titles in list(held.items())[:50]:
        row = set(fit[user].indices.tolist())
        assert titles and not titles & row
        assert titles | row == set(interactions.matrix[user].indices.tolist())


def test_tuning_beats_the_old_fixed_defaults_on_validation(interactions) -> None:
    base = AlsParams(factors=64, regularization=0.05, alpha=20.0, iterations=6)
    chosen, report = tune(interactions, base, TuningOptions(budget_s=60))
    fixed = [
        t for t in report.trials if (t["regularization"], t["alpha"]) == (0.05, 20.0)
    ]  # not on the grid: compare against the closest grid neighbour of the old defaults instead
    assert not fixed
    assert report.chosen == {
        "factors": chosen.factors,
        "regularization": chosen.regularization,
        "alpha": chosen.alpha,
        "iterations": 6,
    }
    stages = {t["stage"] for t in report.trials}
    assert {"grid", "factors"} <= stages and len(report.trials) >= 25 + 3
    key = (chosen.factors, chosen.regularization, chosen.alpha)
    chosen_trial = [t for t in report.trials if (t["factors"], t["regularization"], t["alpha"]) == key]
    assert chosen_trial and report.validation["ndcg@10"] == pytest.approx(chosen_trial[0]["ndcg@10"])
    # The one-standard-error rule: within one SE of the best, and nothing in that band is simpler.
    best = max(report.trials, key=lambda t: t["ndcg@10"])
    band = best["ndcg@10"] - best["se"]
    assert chosen_trial[0]["ndcg@10"] >= band - 1e-9
    simpler = [
        t
        for t in report.trials
        if t["ndcg@10"] >= band and (t["factors"], -t["regularization"]) < (chosen.factors, -chosen.regularization)
    ]
    assert not simpler
    old_corner = [t for t in report.trials if t["regularization"] == 0.01 and t["alpha"] == 16.0]
    assert old_corner and chosen_trial[0]["ndcg@10"] >= old_corner[0]["ndcg@10"] - best["se"]


def test_the_budget_bounds_the_search_and_fixed_values_are_not_searched(interactions, monkeypatch) -> None:
    """On a clock where every trial takes exactly one second, a 4.5 s budget runs 4 trials."""
    clock = [0.0]
    real_score = tuning._score  # pylint: disable=protected-access

    def one_second_trials(*args, **kwargs):
        clock[0] += 1.0
        return real_score(*args, **kwargs)

    monkeypatch.setattr(tuning, "_score", one_second_trials)
    monkeypatch.setattr(tuning, "time", SimpleNamespace(perf_counter=lambda: clock[0]))
    base = AlsParams(iterations=4)
    chosen, report = tune(interactions, base, TuningOptions(budget_s=4.5, fixed_factors=8, fixed_alpha=3.0))
    assert report.stopped_by_budget and report.skipped_trials > 0
    assert len(report.trials) == 4 and report.seconds <= 4.5
    assert {t["factors"] for t in report.trials} == {8} and {t["alpha"] for t in report.trials} == {3.0}
    assert chosen.factors == 8 and chosen.alpha == 3.0
    monkeypatch.undo()
    _, none = tune(interactions, base, TuningOptions(budget_s=0.0))
    assert not none.trials and none.note and "defaults" in none.note


def test_evaluate_tunes_on_the_train_split_only(monkeypatch) -> None:
    history = synthetic_history(users=200, items=80, sessions_per_user=20, seed=9)
    seen: list[int] = []
    real_tune = tune

    def spy(interactions, params, options):
        seen.append(int(interactions.matrix.nnz))
        return real_tune(interactions, params, options)

    monkeypatch.setattr(evaluation, "tune", spy)  # the name evaluate() calls
    report = evaluation.evaluate(history, AlsParams(iterations=3), tuning=TuningOptions(budget_s=30), split="random")
    full = build_interactions(history.user_id, history.title_id, history.completion, history.started_at)
    assert seen and seen[0] < full.matrix.nnz  # the test pairs were not in what the search saw
    out = report.as_dict()
    assert out["tuning"]["chosen"]["factors"] == out["params"]["factors"]
    assert {"als", "als_fixed", "popularity"} <= set(out)
    assert out["als"]["recall@10"] <= out["als"]["normalized_recall@10"]


def test_cli_train_tunes_by_default_and_stores_the_search(tmp_path: Path, capsys) -> None:
    history = tmp_path / "h.csv"
    assert main(["synthesize", "--out", str(history), "--users", "150", "--items", "60"]) == 0
    capsys.readouterr()
    args = ["--history", str(history), "--iterations", "3", "--tune-budget", "20", "--json"]
    assert main(["train", "--model-dir", str(tmp_path / "m"), *args]) == 0
    trained = json.loads(capsys.readouterr().out)
    tuning = trained["tuning"]
    assert tuning["chosen"]["factors"] == trained["params"]["factors"]
    assert tuning["tuned_on"].startswith("all history") and tuning["trials"]
    assert "optimistic" in trained["offline_metrics"]["protocol"]
    assert main(["inspect", "--model-dir", str(tmp_path / "m"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tuning"] == tuning
    pinned = ["--factors", "8", "--regularization", "1", "--alpha", "2", "--skip-eval"]
    assert main(["train", "--model-dir", str(tmp_path / "m"), *args, *pinned]) == 0
    fixed = json.loads(capsys.readouterr().out)
    assert fixed["tuning"] is None
    assert (
        fixed["params"]["factors"],
        fixed["params"]["regularization"],
        fixed["params"]["alpha"],
    ) == (8, 1.0, 2.0)


@pytest.mark.parametrize("keep", [0.5, 0.0])
def test_inspect_on_a_truncated_seen_npz_is_one_clean_line(tmp_path: Path, capsys, keep: float) -> None:
    history = tmp_path / "h.csv"
    assert main(["synthesize", "--out", str(history), "--users", "60", "--items", "30"]) == 0
    common = ["--history", str(history), "--no-tune", "--factors", "4", "--skip-eval"]
    assert main(["train", "--model-dir", str(tmp_path / "m"), *common, "--iterations", "2"]) == 0
    version = (tmp_path / "m" / "CURRENT").read_text().strip()
    seen = tmp_path / "m" / version / "seen.npz"
    seen.write_bytes(seen.read_bytes()[: int(seen.stat().st_size * keep)])
    capsys.readouterr()
    assert main(["inspect", "--model-dir", str(tmp_path / "m")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert captured.err.count("\n") == 1 and "seen.npz is unreadable" in captured.err


def test_no_password_reaches_any_output(pg_dsn: str, tmp_path: Path, capsys) -> None:
    conn = psycopg2.connect(pg_dsn)
    with conn, conn.cursor() as cur:
        cur.execute(POSTGRES_DDL)
        h = synthetic_history(users=80, items=40, sessions_per_user=15, seed=3)
        rows = [
            (f"s{i}", u, t, float(s), 60.0, float(c))
            for i, (u, t, c, s) in enumerate(
                zip(
                    h.user_id.tolist(),
                    h.title_id.tolist(),
                    h.completion.tolist(),
                    h.started_at.tolist(),
                )
            )
        ]
        cur.executemany(
            "INSERT INTO viewing_history (session_id, user_id, title_id, started_at, watched_seconds, "
            "completion) VALUES (%s, %s, %s, to_timestamp(%s), %s, %s)",
            rows,
        )
    params = psycopg2.extensions.parse_dsn(pg_dsn)
    secret = "hunter2-very-secret"  # pragma: allowlist secret
    url = (
        f"postgresql://{params.get('user', 'postgres')}:{secret}@{params.get('host', '127.0.0.1')}:"
        f"{params.get('port', '5432')}/{params['dbname']}"
    )  # trust authentication accepts any password: the URL works and carries a secret
    common = ["--history", url, "--iterations", "2", "--tune-budget", "5", "--json"]
    assert main(["evaluate", "--split", "random", *common]) == 0
    captured = capsys.readouterr()
    assert secret not in captured.out + captured.err
    assert json.loads(captured.out)["history"].startswith("postgresql://")
    assert main(["train", "--model-dir", str(tmp_path / "m"), *common]) == 0
    captured = capsys.readouterr()
    assert secret not in captured.out + captured.err
    assert secret not in "".join(p.read_text() for p in (tmp_path / "m").rglob("*.json"))
    bad = url.replace(f":{params.get('port', '5432')}/", ":1/")  # nothing listens on port 1
    assert main(["evaluate", "--history", bad, "--no-tune"]) == 1  # an unreachable backend: failed
    captured = capsys.readouterr()
    assert secret not in captured.out + captured.err and "failed: PostgreSQL" in captured.err


def test_recall_is_hits_over_relevant() -> None:
    from netflix_clone.recommendation_service.domain.metrics import evaluate_rankings

    metrics = evaluate_rankings({0: list(range(10))}, {0: set(range(5, 25))}, n_items=40, k=10)
    assert metrics.recall == pytest.approx(5 / 20)
    assert metrics.normalized_recall == pytest.approx(5 / 10)
    assert np.isclose(metrics.as_dict()["recall@10"], 0.25)
