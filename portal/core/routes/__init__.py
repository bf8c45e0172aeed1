"""The core's pages and actions."""
