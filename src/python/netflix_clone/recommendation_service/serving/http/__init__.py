"""The HTTP API: app (assembly, lifespan, errors), routes, schemas, telemetry and input limits."""
