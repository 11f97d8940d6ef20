"""I/O for recommendation-service: model artifacts on disk, viewing history sources, the Redis cache."""
