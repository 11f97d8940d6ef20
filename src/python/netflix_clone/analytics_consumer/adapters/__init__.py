"""I/O for analytics-consumer: event sources (Redis Streams, JSON lines) and session sinks."""
