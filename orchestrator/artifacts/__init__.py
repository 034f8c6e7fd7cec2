"""orchestrator.artifacts."""
