"""Sales objectives per person or profile, rolled up the hierarchy (a bundled plugin)."""
