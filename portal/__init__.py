"""Cartera: a self-hosted CRM portal for small sales companies."""

__version__ = "0.1.0"
