"""A local Trading 212 double: a real HTTP server on loopback with deterministic synthetic data."""
