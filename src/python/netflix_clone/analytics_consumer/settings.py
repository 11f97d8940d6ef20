"""Every environment variable analytics-consumer reads, with its default and meaning (README table).

The service's own variables are ``NFC_ANALYTICS_*``; the backends every service shares keep their
shared names (``NFC_REDIS_URL``, ``NFC_POSTGRES_DSN``, ``NFC_CASSANDRA_HOSTS``, ``NFC_LOG_LEVEL``).
Each one is also a flag of ``analytics-consumer run``/``replay`` (the flag wins), whose ``--help``
names the variable and its default.

    >>> from netflix_clone.platform.settings import load_settings
    >>> settings = load_settings(AnalyticsSettings, {"NFC_ANALYTICS_OPS_PORT": "9200"})
    >>> settings.ops_port, settings.stream, settings.redis_url
    (9200, 'player-events', 'redis://127.0.0.1:6379/0')
    >>> load_settings(AnalyticsSettings, {"NFC_ANALYTICS_OPS_PORT": "ninety"})
    Traceback (most recent call last):
    ...
    netflix_clone.platform.settings.SettingsError: invalid AnalyticsSettings environment: NFC_ANALYTICS_OPS_PORT: ...
"""

from __future__ import annotations

from typing import Optional

from netflix_clone.platform.settings import Field, ServiceSettings, SettingsConfigDict, shared

__all__ = ["AnalyticsSettings"]


class AnalyticsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NFC_ANALYTICS_")

    # Backends shared with the other services.
    redis_url: str = shared("NFC_REDIS_URL", "redis://127.0.0.1:6379/0", "Redis holding the event stream and sessions")
    postgres_dsn: Optional[str] = shared(
        "NFC_POSTGRES_DSN", None, "PostgreSQL sink (sessions, viewing_history, qoe_per_minute); unset: none"
    )
    cassandra_hosts: Optional[str] = shared(
        "NFC_CASSANDRA_HOSTS", None, "Cassandra contact points, comma-separated (viewing history per user); unset: none"
    )
    # Sinks.
    sqlite: Optional[str] = Field(
        None,
        description="SQLite sink file (sessions, viewing_history); unset: var/analytics.sqlite without other sinks",
    )
    jsonl: Optional[str] = Field(None, description="JSON-lines sink file (one session per line, appended)")
    cassandra_keyspace: str = Field("netflix_clone", description="Cassandra keyspace of the viewing history")
    # The stream.
    stream: str = Field("player-events", description="Redis stream of player events")
    group: str = Field("analytics", description="consumer group every consumer of the stream joins")
    consumer: Optional[str] = Field(None, description="this consumer's name in the group (unset: HOSTNAME-PID)")
    dead_letter_stream: str = Field("player-events-dead", description="stream of rejected entries, with reasons")
    redis_cluster: bool = Field(False, description="the Redis URL is a Redis Cluster node")
    store_prefix: str = Field("analytics:", description="key prefix of the shared session store")
    # Operations.
    ops_host: str = Field("127.0.0.1", description="address of /healthz, /readyz and /metrics (0.0.0.0 in images)")
    ops_port: int = Field(9100, ge=0, le=65535, description="port of /healthz, /readyz and /metrics (0: any free)")
