"""Throttle implementations: ``memory`` (one process) and ``redis`` (shared by all workers)."""
