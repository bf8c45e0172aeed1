"""Loyalty points for clients: an example Cartera plugin (hooks in `plugin.py`)."""
