"""Everything analytics-consumer can fail with, on the platform's exit-code table.

=====  ===========================================================================================
code   meaning
=====  ===========================================================================================
0      done
1      failed: a backend (Redis, PostgreSQL, Cassandra) was unreachable or went away; every entry
       not yet stored stays pending in the stream, so a restart loses nothing
2      rejected: a bad flag, environment variable or input file; nothing was read or written
=====  ===========================================================================================

Domain modules raise these (they import nothing else with I/O); ``platform.cli.run`` prints one line.

    >>> InvalidConfig("reorder_window_ms must not be negative").exit_code
    <ExitCode.USAGE: 2>
    >>> isinstance(InvalidConfig("x"), ValueError)
    True
"""

from __future__ import annotations

from netflix_clone.platform.errors import BackendUnavailable, Failed, PlatformError, UsageError

__all__ = [
    "AnalyticsError",
    "BackendUnavailable",
    "InputNotFound",
    "InvalidConfig",
    "SinkWriteFailed",
]


class AnalyticsError(PlatformError):
    """Base of the service's own expected failures."""


class InvalidConfig(AnalyticsError, UsageError, ValueError):
    """A closing rule, store layout, receive clock or keyspace name that cannot work (a negative window, no shards)."""


class InputNotFound(AnalyticsError, UsageError):
    """A replay input or report database that does not exist."""


class SinkWriteFailed(AnalyticsError, Failed, RuntimeError):
    """A sink refused a write (Cassandra reported failed inserts)."""
