"""Shared web helpers: sessions, CSRF, rendering, responses."""
