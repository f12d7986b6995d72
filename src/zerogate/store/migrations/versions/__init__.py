"""Migration scripts, one per table group, applied in `down_revision` order."""
