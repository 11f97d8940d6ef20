from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from netflix_clone.platform.metrics import naming_problems, new_registry


def test_new_registry_exports_process_and_python_metrics() -> None:
    text = generate_latest(new_registry()).decode()
    for name in (
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "python_info",
        "python_gc_objects_collected_total",
    ):
        assert f"\n{name}" in text or text.startswith(name), name
    # A bare registry has none of them: the defect new_registry exists for.
    assert "process_cpu_seconds_total" not in generate_latest(CollectorRegistry()).decode()


def test_naming_rules_catch_each_mistake() -> None:
    registry = CollectorRegistry()
    Counter("svc_events", "ok", registry=registry)
    Gauge("svc_open_sessions", "ok", registry=registry)
    Histogram("svc_request_duration_seconds", "ok", registry=registry)
    assert not naming_problems(registry, "svc")
    bad = CollectorRegistry()
    Gauge("svc_duplicate_events_total", "a running count as a gauge", registry=bad)
    Gauge("svc_stream_lag", "no unit", registry=bad)
    Histogram("svc_latency_ms", "not a base unit", registry=bad)
    Counter("other_things", "wrong prefix", registry=bad)
    problems = "\n".join(naming_problems(bad, "svc"))
    assert "svc_duplicate_events_total: a running count must be a counter" in problems
    assert "svc_stream_lag: a gauge names its unit" in problems
    assert "svc_latency_ms: use base units" in problems
    assert "other_things: does not start with svc_" in problems
