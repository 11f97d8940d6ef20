"""History sources (CSV, Parquet, the PostgreSQL contract table) and the CLI's JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import psycopg2
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from netflix_clone.contracts.viewing_history import POSTGRES_DDL
from netflix_clone.recommendation_service.adapters.history_sources import read_history, read_history_file
from netflix_clone.recommendation_service.cli import main, write_history_csv
from netflix_clone.recommendation_service.errors import HistoryError
from netflix_clone.recommendation_service.synthetic import synthetic_history


def test_csv_and_parquet_read_the_same_columns(tmp_path: Path) -> None:
    history = synthetic_history(users=20, items=10, sessions_per_user=3)
    write_history_csv(history, tmp_path / "h.csv")
    table = pa.table(
        {
            "user_id": history.user_id,
            "title_id": history.title_id,
            "completion": history.completion,
            "started_at": history.started_at,
        }
    )
    pq.write_table(table, tmp_path / "h.parquet")
    for name in ("h.csv", "h.parquet"):
        read = read_history_file(tmp_path / name)
        assert read.user_id.tolist() == history.user_id.tolist()
        np.testing.assert_allclose(read.started_at, history.started_at)


def test_iso_timestamps_in_csv(tmp_path: Path) -> None:
    path = tmp_path / "iso.csv"
    path.write_text("user_id,title_id,completion,started_at\nu1,t1,0.5,2026-01-01T00:00:10\n")
    assert read_history_file(path).started_at.tolist() == [1767225610.0]


@pytest.mark.parametrize(
    "content, message",
    [
        ("user_id,title_id\nu,t\n", "lacks required column"),
        ("user_id,title_id,completion,started_at\nu,t,1.7,1\n", r"completion must be in \[0, 1\]"),
    ],
)
def test_bad_history_files_are_rejected_clearly(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(HistoryError, match=message):
        read_history_file(path)
    with pytest.raises(HistoryError, match="does not exist"):
        read_history_file(tmp_path / "missing.csv")


def test_reads_the_contract_table_in_postgres(pg_dsn: str) -> None:
    conn = psycopg2.connect(pg_dsn)
    with conn, conn.cursor() as cur:
        cur.execute(POSTGRES_DDL)
        cur.execute(
            "INSERT INTO viewing_history (session_id, user_id, title_id, started_at, watched_seconds, completion)"
            " VALUES ('s1', 'u1', 't1', to_timestamp(1000), 60, 0.5), ('s2', 'u2', 't1', to_timestamp(2000), 10, 0.1)"
        )
    conn.close()
    history = read_history(pg_dsn)
    assert sorted(zip(history.user_id.tolist(), history.started_at.tolist())) == [
        ("u1", 1000.0),
        ("u2", 2000.0),
    ]


def test_cli_train_inspect_evaluate_print_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "synthesize",
                "--out",
                str(tmp_path / "h.csv"),
                "--users",
                "150",
                "--items",
                "80",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["rows"] == 150 * 30
    common = ["--history", str(tmp_path / "h.csv"), "--factors", "8", "--iterations", "3", "--json"]
    assert main(["train", "--model-dir", str(tmp_path / "m"), *common]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["n_users"] == 150 and "ndcg@10" in trained["offline_metrics"]["als"]
    assert main(["inspect", "--model-dir", str(tmp_path / "m"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == trained["version"]
    assert main(["evaluate", "--split", "temporal", *common]) == 0
    report = json.loads(capsys.readouterr().out)["reports"][0]
    assert report["split"] == "temporal" and {"als", "popularity"} <= set(report)


def test_cli_reports_errors_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "--model-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "rejected: no model in" in err and "Traceback" not in err


def test_sqlite_history_and_catalog_restriction(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import sqlite3

    from netflix_clone.contracts.catalog import SQLITE_CATALOG_DDL
    from netflix_clone.recommendation_service.adapters.catalog_source import read_catalog, restrict_to_catalog

    history_db = tmp_path / "analytics.sqlite"
    db = sqlite3.connect(history_db)
    db.execute(
        "CREATE TABLE viewing_history (session_id TEXT PRIMARY KEY, user_id TEXT, title_id TEXT, started_at REAL, "
        "watched_seconds REAL, completion REAL, qoe_score REAL, device TEXT, country TEXT, schema_version INTEGER)"
    )
    rows = [
        (
            f"s{u}-{t}",
            f"u{u}",
            f"t{t}",
            1_700_000_000.0 + u * 100 + t,
            600.0,
            0.8,
            90.0,
            "web",
            "US",
            1,
        )
        for u in range(40)
        for t in range(6)
        if (u + t) % 3
    ]
    db.executemany("INSERT INTO viewing_history VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    db.commit()
    catalog_db = tmp_path / "catalog.sqlite"
    cat = sqlite3.connect(catalog_db)
    cat.execute(SQLITE_CATALOG_DDL)
    for t in range(4):  # t4 and t5 were watched but are not published
        cat.execute(
            "INSERT INTO catalog_titles VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                f"t{t}",
                f"Title {t}",
                60.0,
                "file:///x",
                "master.m3u8",
                None,
                None,
                "k",
                "[]",
                0.0,
                640,
                360,
                1,
            ),
        )
    cat.commit()
    history = read_history(str(history_db))
    assert len(history) == len(rows)
    assert read_history(f"sqlite:///{history_db}").title_id.tolist() == history.title_id.tolist()
    catalog = read_catalog(str(catalog_db))
    assert catalog == {f"t{t}": f"Title {t}" for t in range(4)}
    kept, dropped = restrict_to_catalog(history, set(catalog))
    assert set(kept.title_id.tolist()) == {"t0", "t1", "t2", "t3"} and dropped == len(rows) - len(kept)
    code = main(["train", "--history", str(history_db), "--catalog", str(catalog_db), "--model-dir",
                 str(tmp_path / "models"), "--factors", "2", "--skip-eval", "--json"])  # fmt: skip
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["n_items"] == 4 and summary["dropped_not_in_catalog"] == dropped
