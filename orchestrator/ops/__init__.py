"""orchestrator.ops."""
