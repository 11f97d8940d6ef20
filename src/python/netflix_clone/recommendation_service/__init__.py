"""recommendation-service: implicit-feedback matrix factorization, trained on viewing history and served
over HTTP with exact or approximate top-N."""
