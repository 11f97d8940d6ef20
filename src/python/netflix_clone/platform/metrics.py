"""Prometheus registries and names, the same way in every service.

Each service keeps its own :class:`~prometheus_client.CollectorRegistry` (tests and several servers in
one process must not share one), and :func:`new_registry` gives it the collectors the default registry
has - ``process_*`` (CPU, memory, open files), ``python_gc_*`` and ``python_info`` - which a bare
``CollectorRegistry()`` silently lacks.

Names follow Prometheus' conventions (https://prometheus.io/docs/practices/naming/), checked by
:func:`naming_problems` in every service's tests: ``<service>_<what>_<unit>``, base units (seconds,
bytes), counters end in ``_total`` (prometheus_client appends it), a ratio ends in ``_ratio``, and a
running count is a counter, never a gauge.

    >>> registry = new_registry()
    >>> sorted({m.name for m in registry.collect()} & {"process_cpu_seconds", "python_gc_objects_collected"})
    ['process_cpu_seconds', 'python_gc_objects_collected']
    >>> naming_problems(registry, "analytics")
    []
"""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector

__all__ = ["STANDARD_PREFIXES", "naming_problems", "new_registry"]

# What new_registry adds; not subject to the service-prefix rule.
STANDARD_PREFIXES = ("process_", "python_")
_UNITS = (
    "seconds",
    "bytes",
    "ratio",
    "info",
    "timestamp_seconds",
    "events",
    "sessions",
    "entries",
    "jobs",
    "requests",
    "items",
    "titles",
    "users",
    "versions",
    "connections",
    "workers",
    "bits",
)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def new_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def naming_problems(registry: CollectorRegistry, prefix: str) -> list[str]:
    """Every metric family in ``registry`` that breaks the conventions above, with the reason."""
    problems = []
    for family in registry.collect():
        name = family.name
        if name.startswith(STANDARD_PREFIXES):
            continue
        if not _NAME.match(name):
            problems.append(f"{name}: not snake_case")
        if not name.startswith(f"{prefix}_"):
            problems.append(f"{name}: does not start with {prefix}_")
        if family.type == "counter" and name.endswith("_total"):
            problems.append(f"{name}: counter declared with _total (prometheus_client appends it)")
        if family.type == "gauge" and name.endswith(("_count", "_total")):
            problems.append(f"{name}: a running count must be a counter, not a gauge")
        if any(word in name for word in ("_ms", "_milliseconds", "_kb", "_mb", "_percent")):
            problems.append(f"{name}: use base units (seconds, bytes, ratio)")
        if family.type in ("gauge", "histogram", "summary") and not name.endswith(_UNITS):
            problems.append(f"{name}: a {family.type} names its unit as the last word")
    return problems
