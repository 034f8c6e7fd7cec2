"""orchestrator.bench."""
