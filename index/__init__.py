"""Hybrid retrieval: pure scoring functions, an encoder wrapper, and an on-disk store."""
