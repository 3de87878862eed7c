"""Queries and persistence: the only place that writes SQL, set-based on hot paths."""
