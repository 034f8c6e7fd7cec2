"""orchestrator.project."""
