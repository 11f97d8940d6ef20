"""Serving: the recommender (scores, top-N, similar titles), the model holder (hot reload), cache
warm-up, the HTTP API (http/) and the server processes (server)."""
