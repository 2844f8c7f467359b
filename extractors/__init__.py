"""Talks to Trading 212: HTTP client, auth, rate limiter, paginator and resource extractors."""
