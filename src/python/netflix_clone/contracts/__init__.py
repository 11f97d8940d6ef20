"""Versioned records that cross service boundaries. A service reads and writes other services' data only
through these, never through another service's modules."""
