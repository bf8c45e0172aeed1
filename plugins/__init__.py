"""Plugins shipped with Cartera; each is its own package registered by entry point."""
