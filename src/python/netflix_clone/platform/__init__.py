"""Code shared by every service, and nothing service-specific.

- ``settings``: one settings class per service on pydantic-settings (``NFC_<SERVICE>_*`` plus the shared
  ``NFC_LOG_LEVEL``, ``NFC_POSTGRES_DSN``, ``NFC_REDIS_URL``, ``NFC_CASSANDRA_HOSTS``), flags defaulting from it.
- ``errors``: the exit-code table and the base exceptions every service's ``errors`` module extends.
- ``cli``: the one ``main()`` wrapper (settings, logging, redaction, exit codes, ``--json`` outcomes).
- ``dsn``: the one reading of a PostgreSQL DSN / SQLite path / file argument.
- ``retry``: the one retry helper (tenacity); ``connections``: backend clients with timeouts and retries.
- ``logging``, ``redaction``, ``metrics``, ``ops_http``: JSON logs, secret redaction, Prometheus registries
  and names, the health/readiness/metrics endpoint.
"""
