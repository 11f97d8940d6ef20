"""Cassandra viewing history: statements checked here; the live round trip where NFC_CASSANDRA_HOSTS is set."""

from __future__ import annotations

import secrets
from datetime import timezone

import pytest

from netflix_clone.analytics_consumer.adapters.cassandra_history import (
    COLUMNS,
    CassandraHistorySink,
    bind_values,
    statements,
)
from netflix_clone.analytics_consumer.adapters.sinks import viewing_record
from netflix_clone.analytics_consumer.domain.sessionizer import Sessionizer
from netflix_clone.platform.connections import connect_cassandra
from netflix_clone.tools.analytics.simulator import simulate_population


def _sessions():
    s = Sessionizer()
    for event in simulate_population(sessions=12, users=3, seed=2, spread_s=30):
        s.add(event, event.ts)
    return s.close_all()


def test_statements_are_time_ordered_per_user_and_idempotent_by_key() -> None:
    cql = statements("history_ks")
    assert "PRIMARY KEY ((user_id), started_at, session_id)" in cql["table"]
    assert "CLUSTERING ORDER BY (started_at DESC" in cql["table"]
    assert cql["insert"].count("?") == len(COLUMNS)
    assert cql["insert"].startswith("INSERT INTO history_ks.viewing_history_by_user (user_id, started_at")
    with pytest.raises(ValueError, match="invalid Cassandra keyspace"):
        statements("ks; DROP TABLE x")


def test_bind_values_follow_the_column_order() -> None:
    record = next(r for r in map(viewing_record, _sessions()) if r is not None)
    values = dict(zip(COLUMNS, bind_values(record)))
    assert values["user_id"] == record.user_id and values["session_id"] == record.session_id
    assert values["started_at"].tzinfo == timezone.utc
    assert values["started_at"].timestamp() == pytest.approx(record.started_at, abs=1e-3)


def test_round_trip_on_a_real_cluster(cassandra_hosts: list[str]) -> None:
    keyspace = f"nfc_test_{secrets.token_hex(4)}"
    session = connect_cassandra(cassandra_hosts)
    try:
        sink = CassandraHistorySink(session, keyspace)
        sessions = _sessions()
        sink.write(sessions)
        sink.write(sessions)  # redelivery: same rows
        played = [s for s in sessions if s.play_ms > 0]
        user = played[0].user_id
        rows = sink.history(user)
        assert len(rows) == sum(1 for s in played if s.user_id == user)
        starts = [r.started_at for r in rows]
        assert starts == sorted(starts, reverse=True)
    finally:
        session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")
        session.cluster.shutdown()
