"""Reusable pieces of the HTTP conventions: money, time, pagination, idempotency, etags, auth, limits."""
